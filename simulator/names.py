"""Plausible French names and places for the synthetic population. Data only, no I/O.

Everything here is indexed by a deterministic draw, so changing the order or length of a
tuple changes the population: append rather than reorder when a seed must stay stable.
"""

LAST_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
    "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier",
    "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin",
    "Vidal", "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas",
    "Lacroix", "Olivier", "Philippe", "Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc",
    "Payet", "Rolland", "Leclercq", "Guillaume", "Lecomte", "Lopez", "Jean", "Dupuy",
    "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin", "Louis",
    "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer", "Klein", "Jacquet",
    "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot", "Carré", "Charles", "Renault",
    "Charpentier", "Ménard", "Maillard", "Baron", "Bertin", "Bailly", "Hervé", "Schneider",
    "Fernandez", "Le Gall", "Collet", "Léger", "Bouvier", "Julien", "Prévost", "Millet",
    "Perrot", "Daniel", "Le Roux", "Cousin", "Germain", "Breton", "Besson", "Langlois",
    "Rémy", "Le Goff", "Pelletier", "Lévêque", "Perrier", "Leblanc", "Barré", "Lebrun",
)

MALE_FIRST_NAMES = (
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques", "Daniel",
    "Christian", "Patrick", "Nicolas", "Christophe", "Éric", "Frédéric", "Laurent", "Stéphane",
    "David", "Pascal", "Julien", "Sébastien", "Thierry", "Olivier", "Dominique", "Gérard",
    "François", "Claude", "Marcel", "René", "Louis", "Roger", "Henri", "Paul", "Georges",
    "Maurice", "Robert", "Thomas", "Alexandre", "Guillaume", "Antoine", "Vincent", "Romain",
    "Mathieu", "Maxime", "Kévin", "Jérôme", "Bruno", "Didier", "Yves", "Serge", "Gilles",
    "Denis", "Franck", "Hervé", "Fabrice", "Arnaud", "Cédric", "Anthony", "Jonathan", "Florian",
    "Benjamin", "Hugo", "Lucas", "Léo", "Gabriel", "Raphaël", "Arthur", "Sacha", "Jules",
    "Adam", "Maël", "Noah", "Ethan", "Nathan", "Théo", "Tom", "Enzo", "Mathis", "Clément",
    "Quentin", "Baptiste", "Valentin", "Victor", "Samuel", "Simon", "Martin", "Aurélien",
    "Damien", "Yannick", "Ludovic", "Emmanuel", "Xavier", "Lionel", "Joël", "Guy", "Raymond",
    "Lucien", "Fernand", "Émile", "Marius", "Axel", "Timéo",
)

FEMALE_FIRST_NAMES = (
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Martine", "Christine", "Françoise",
    "Valérie", "Sandrine", "Stéphanie", "Véronique", "Sophie", "Céline", "Chantal", "Patricia",
    "Anne", "Brigitte", "Julie", "Monique", "Aurélie", "Nicole", "Laurence", "Annie",
    "Émilie", "Dominique", "Virginie", "Corinne", "Élodie", "Christiane", "Caroline", "Jacqueline",
    "Camille", "Laura", "Sarah", "Pauline", "Manon", "Léa", "Chloé", "Emma", "Jade", "Louise",
    "Alice", "Lina", "Rose", "Anna", "Mila", "Ambre", "Julia", "Inès", "Zoé", "Lucie", "Clara",
    "Juliette", "Charlotte", "Mathilde", "Océane", "Marine", "Audrey", "Mélanie", "Laetitia",
    "Karine", "Hélène", "Florence", "Agnès", "Danielle", "Michèle", "Colette", "Denise",
    "Simone", "Jeanne", "Suzanne", "Yvette", "Odette", "Madeleine", "Paulette", "Ginette",
    "Josiane", "Évelyne", "Béatrice", "Claire", "Cécile", "Delphine", "Élise", "Margaux",
    "Romane", "Anaïs", "Eva", "Victoire", "Agathe", "Margot", "Apolline", "Lola", "Nina",
    "Maëlys", "Capucine", "Adèle", "Justine", "Morgane", "Solène", "Gaëlle",
)

# AMC names: a noun before a complement ("Mutuelle des Alpes") or a word before a noun
# ("Horizon Prévoyance"). Invented; any likeness to a real insurer is accidental.
_AMC_COMPLEMENT_FORMS = ("Mutuelle {}", "Union Mutualiste {}", "Caisse de Prévoyance {}",
                         "Mutuelle Familiale {}", "Mutuelle Interprofessionnelle {}")
_AMC_COMPLEMENTS = (
    "des Alpes", "de Bretagne", "du Rhône", "d'Aquitaine", "de Provence", "du Nord",
    "de Lorraine", "d'Alsace", "de Normandie", "des Pyrénées", "du Centre", "d'Occitanie",
    "de Bourgogne", "du Littoral", "des Cheminots", "des Artisans", "de l'Enseignement",
    "des Territoriaux", "du Commerce", "des Agriculteurs",
)
_AMC_WORD_FORMS = ("{} Prévoyance", "{} Santé", "{} Mutuelle", "Assurances {}")
_AMC_WORDS = ("Atlantique", "Horizon", "Avenir", "Solidaire", "Entraide", "Confiance",
              "Azur", "Armor", "Méridienne", "Alliance", "Concorde", "Sequana")
AMC_NAMES = tuple(f.format(w) for f in _AMC_COMPLEMENT_FORMS for w in _AMC_COMPLEMENTS) + tuple(
    f.format(w) for f in _AMC_WORD_FORMS for w in _AMC_WORDS)

# INSEE country codes (the 3 digits after "99" in the NIR of people born abroad).
BIRTH_COUNTRIES = ("350", "352", "351", "139", "127", "134", "109", "131", "132", "243", "333")
# Overseas departments whose NIR department field has 3 digits.
OVERSEAS_DEPARTMENTS = ("971", "972", "973", "974", "976")
