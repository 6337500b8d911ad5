"""Versions of interactions, so an edit or a delete never changes a job's snapshot.

Every write takes the next number of the interaction sequence. An interaction's current
version is its record (its creation number is its score in the index; an edited one's current
number is in INTERACTION_BORN). An edit or a delete retires the current version: its body
moves to INTERACTION_BODIES under the ref "{id}@{number it was written at}", the ref is
scored by the interaction's creation number in INTERACTION_HISTORY (so a snapshot reads old
versions in the same order as live ones) and by the number that ended it in
INTERACTION_ENDED. The snapshot at S holds, per interaction created at or before S, the
version written at or before S and not ended at or before S: at most one.

A retired version is reclaimed once no queued or running job can need it (its end is at or
below every such job's snapshot number, see Store.reclaim_versions), a bounded number per
call; INTERACTION_RECLAIMED keeps the highest end and the lowest start of the versions
reclaimed so far: a snapshot between them (a finished job's) can no longer be read as it was.

Every key arrives in KEYS; refs and numbers are members and values, never key names. The
scripts are lua/interaction_*.lua (their shared pieces in lua/include/interaction_versions.lua).
"""

from tuneloop.store import scripts

EDIT = scripts.source("interaction_edit")
DELETE = scripts.source("interaction_delete")
SNAPSHOT_BATCH = scripts.source("interaction_snapshot_batch")
SNAPSHOT_SIZE = scripts.source("interaction_snapshot_size")
RECLAIM = scripts.source("interaction_reclaim")
