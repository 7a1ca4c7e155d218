"""`python -m simulator accounts | cards | keys` against a platform's state directory.

Each reads the population the directory was made for (its seed, size and AMCs), so a card
or an account never comes from another population than the platform's; `--seed` or
`--beneficiaries`, when given, must agree. The directory must exist: the platform makes it
(and its keys) on first start.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace

from .settings import Settings


class CliError(Exception):
    """Printed as `error: ...` with exit status 2."""


def state_settings(s: Settings, args) -> Settings:
    """`s` with the state directory's recorded population; CliError if none or at odds with the flags."""
    from .state_identity import describe, recorded
    ident = recorded(s.state_dir)
    if ident is None:
        raise CliError(f"no platform state in {os.path.abspath(s.state_dir)}: start the platform with "
                       f"--state-dir {s.state_dir} first (it makes the keys), or pass the --state-dir it uses")
    for flag in ("seed", "beneficiaries"):
        given = getattr(args, flag, None)
        if given is not None and given != ident.get(flag):
            raise CliError(f"--{flag} {given} is not this state directory's population ({describe(ident)})")
    return replace(s, seed=int(ident["seed"]), beneficiaries=int(ident["beneficiaries"]),
                   amc_count=int(ident["amc_count"]))


def population_of(s: Settings):
    from .population import Population
    return Population(seed=s.seed, size=s.contracts, amc_count=s.amc_count, reference_date=s.today())


def accounts(s: Settings, args) -> int:
    from .accounts import account, known_account, service_account
    from .credentials import issue
    from .store import Store
    s = state_settings(s, args)
    if args.service:
        if service_account(args.service) is None:
            raise CliError("a service account is gw-<number>, e.g. gw-1")
        ids = [args.service]
    else:
        ids = [account(s.seed, k).client_id for k in range(args.count)] + list(args.client_id or [])
        unknown = [i for i in ids if known_account(s.seed, i, s.accounts) is None]
        if unknown:
            raise CliError(f"unknown client ids: {', '.join(unknown[:5])}")
    os.umask(0o077)
    issued = issue(Store(s.db_path), ids, time.time(), reissue=args.reissue)
    if args.service:
        secret = issued[0]["client_secret"]
        if secret is None:
            raise CliError(f"{args.service} was issued a secret earlier (shown once): --reissue replaces it")
        if args.secret_file:
            write_private(args.secret_file, secret + "\n")
            sys.stdout.write(f"GW_CLIENT_ID={args.service}\nGW_CLIENT_SECRET_FILE={os.path.abspath(args.secret_file)}\n")
        else:
            sys.stdout.write(f"GW_CLIENT_ID={args.service}\nGW_CLIENT_SECRET={secret}\n")
        return 0
    from .trust_control import described
    for row in described(s, issued):
        sys.stdout.write(json.dumps(row) + "\n")
    earlier = sum(row["client_secret"] is None for row in issued)
    if earlier:
        print(f"{earlier} account(s) were issued a secret earlier (shown once, so null here): "
              "--reissue replaces them", file=sys.stderr)
    return 0


def write_private(path: str, text: str) -> None:
    """A file only its owner reads (0600), written whole then renamed into place."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def cards(s: Settings, args) -> int:
    from .catalogue import CASE_NAMES, case_table, cases, cases_of
    from .keys import Keyring, KeyringMissing
    if args.list_cases:  # answers only: any population, from the flags or the state directory given
        s = state_settings(s, args) if args.state_dir else replace(
            s, **{k: getattr(args, k) for k in ("seed", "beneficiaries") if getattr(args, k) is not None})
        pop = population_of(s)
        rows = case_table(pop, args.date or s.today())
        sys.stdout.write(f"{'case':<26}{'domain':<8}{'rights check':<38}PEC (fresh state)\n")
        for r in rows:
            sys.stdout.write(f"{r['case']:<26}{r['domain'] or '-':<8}{r['eligibility']:<38}{r['pec']}\n")
        return 0
    if args.case is not None and args.case not in CASE_NAMES:
        raise CliError(f"unknown case {args.case!r}; `--list-cases` shows them: {', '.join(CASE_NAMES)}")
    s = state_settings(s, args)
    try:
        keys = Keyring.open(s.state_dir)
    except KeyringMissing as e:
        raise CliError(str(e)) from None
    pop, today = population_of(s), args.date or s.today()
    found = (cases_of(pop, keys, today, args.case, args.count or 1) if args.case
             else cases(pop, keys, today, args.count or 20))
    for case in found:
        sys.stdout.write(json.dumps(case, ensure_ascii=False) + "\n")
    return 0


def keys(s: Settings, args) -> int:
    from .key_rotation import TOKEN_FAMILY, card_family
    from .keys import Keyring, KeyringMissing
    from .trust_control import key_status
    s = state_settings(s, args)
    try:
        ring = Keyring.open(s.state_dir)
    except KeyringMissing as e:
        raise CliError(str(e)) from None
    now = time.time()
    if args.action == "list":
        for row in key_status(ring, now):
            sys.stdout.write(json.dumps(row) + "\n")
        return 0
    if args.action == "retire":
        if not args.kid:
            raise CliError("keys retire needs --kid")
        try:
            sys.stdout.write(json.dumps(ring.retire(args.kid, now)) + "\n")
        except KeyError:
            raise CliError(f"no key {args.kid}") from None
        except ValueError as e:
            raise CliError(str(e)) from None
        return 0
    if bool(args.amc) == bool(args.tokens):
        raise CliError("keys rotate needs --amc NUMBER or --tokens")
    if args.amc and population_of(s).amc_by_number(args.amc) is None:
        raise CliError(f"no AMC {args.amc} in this population")
    family = TOKEN_FAMILY if args.tokens else card_family(args.amc)
    overlap = s.overlap_s(family) if args.overlap_s is None else args.overlap_s
    if overlap < 0:
        raise CliError("--overlap-s must be >= 0")
    sys.stdout.write(json.dumps(ring.rotate(family, now, overlap)) + "\n")
    return 0


def add_arguments(sub) -> None:
    from datetime import date
    cards_p = sub.add_parser("cards", help="sandbox test cases with their expected answers (JSON Lines), signed "
                                           "with the state directory's keys")
    cards_p.add_argument("--count", type=int, default=None, help="how many cases (default 20, or 1 with --case)")
    cards_p.add_argument("--case", default=None, metavar="NAME", help="only cases of this kind, e.g. card-revoked")
    cards_p.add_argument("--list-cases", action="store_true", help="print each case name with its expected answers")
    cards_p.add_argument("--date", type=date.fromisoformat, default=None, help="the day the expectations hold")
    accounts_p = sub.add_parser("accounts", help="issue sandbox accounts' secrets (JSON Lines; each secret shown once)")
    accounts_p.add_argument("--count", type=int, default=10, help="the first N professional accounts")
    accounts_p.add_argument("--client-id", action="append", metavar="ID", help="also this account (repeatable)")
    accounts_p.add_argument("--service", metavar="CLIENT_ID", default=None,
                            help="a gateway's service account (gw-1, gw-2...), printed as GW_CLIENT_ID/GW_CLIENT_SECRET")
    accounts_p.add_argument("--secret-file", default=None, help="with --service: write the secret to this file (0600)")
    accounts_p.add_argument("--reissue", action="store_true",
                            help="replace secrets issued earlier (a credential reset: older tokens stop working)")
    keys_p = sub.add_parser("keys", help="the platform's signing keys: list, rotate, retire")
    keys_p.add_argument("action", choices=["list", "rotate", "retire"])
    keys_p.add_argument("--amc", default=None, metavar="NUMBER", help="rotate this AMC's card key")
    keys_p.add_argument("--tokens", action="store_true", help="rotate the access-token key")
    keys_p.add_argument("--overlap-s", type=float, default=None,
                        help="seconds the replaced key stays published (default: SIM_*_KEY_OVERLAP_S)")
    keys_p.add_argument("--kid", default=None, help="retire: the replaced key whose overlap ends now")
    for p in (cards_p, accounts_p, keys_p):
        p.add_argument("--state-dir", default=None, help="the platform's state directory (default $SIM_STATE_DIR)")
        p.add_argument("--seed", type=int, default=None, help="checked against the state directory's population")
        p.add_argument("--beneficiaries", type=int, default=None, help="checked likewise")


def run(command: str, s: Settings, args) -> int:
    if getattr(args, "state_dir", None):
        s = replace(s, state_dir=args.state_dir)
    try:
        return {"accounts": accounts, "cards": cards, "keys": keys}[command](s, args)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
