"""Work done once per gateway by the leader worker: probe, refresh the snapshot, drain the journal."""
