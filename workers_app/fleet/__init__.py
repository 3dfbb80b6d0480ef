"""The fleet: what happens to sessions when nodes die, drain, leave or are out of balance.

Read in this order for "a node dies":

1. `workers_app/tasks.py` `check_node_health` — beat runs it every WORKER_HEALTH_CHECK_INTERVAL.
2. `health.py` `workers_mark_offline` — a node silent past the heartbeat deadline is asked on its
   own health URL (`workers_app/probe.py`); only if it does not answer as itself is it OFFLINE.
3. `moves.py` — its sessions that can move (login in a shared session store another online node
   uses) start there (`sessions_move_away`), hand-overs it never finished start on their targets
   (`handovers_complete`), the rest become DISCONNECTED `node_lost` (`sessions_mark_node_lost`).
4. `sessions_app/sessions/services.py` — each session's status changes through its public
   services (`session_reassign`, `session_status_set_by_backend`), which emit `session.status`
   webhooks; `workers_app/node_client.py` publishes the node tasks after commit.

`operations.py` holds the operators' drain, undrain and remove; `rebalance.py` evens nodes out.
`sessions_app` never imports this package: the fleet calls the sessions' services, not the other
way round.
"""
