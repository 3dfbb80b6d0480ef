import threading

import psycopg
import pytest

from node_agent.session_store import SharedSessionStore

UNREACHABLE_URL = "postgres://postgres@127.0.0.1:1/nowhere"


def all_at_once(fn, stores):
    """Run `fn(index, store)` for every store in its own thread, all released at once; then
    close the stores."""
    start = threading.Barrier(len(stores))

    def run(index, store):
        start.wait()
        fn(index, store)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()


def test_store_id_is_stable_and_shared_by_every_node(session_store_url, shared):
    store_id = shared.store_id
    other = SharedSessionStore(session_store_url)
    try:
        assert len(store_id) == 32
        int(store_id, 16)
        assert other.store_id == store_id
        assert shared.store_id == store_id
    finally:
        other.close()
    with psycopg.connect(session_store_url) as conn:
        rows = conn.execute("SELECT key, value FROM gateway_node_meta").fetchall()
    assert rows == [("store_id", store_id)]


def test_nodes_opening_a_new_store_at_once_agree_on_its_id(session_store_url):
    with psycopg.connect(session_store_url, autocommit=True) as conn:
        for table in ("gateway_node_meta", "gateway_node_credentials", "gateway_node_sends"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    stores = [SharedSessionStore(session_store_url) for _ in range(8)]
    ids, errors = [], []

    def open_store(index, store):
        try:
            ids.append(store.store_id)
        except Exception as exc:
            errors.append(exc)

    all_at_once(open_store, stores)
    assert errors == []
    assert len(ids) == 8
    assert len(set(ids)) == 1


def test_credentials_round_trip(session_store_url, shared):
    credentials = {"phoneNumber": "6281200000100", "jid": "6281200000100@s.whatsapp.net"}
    assert shared.credentials_get("s1") is None

    shared.credentials_save("s1", "sandbox", credentials, "node-a")
    assert shared.credentials_get("s1") == ("sandbox", credentials)

    shared.credentials_save("s1", "sandbox", {**credentials, "deviceKey": "k2"}, "node-b")
    assert shared.credentials_get("s1") == ("sandbox", {**credentials, "deviceKey": "k2"})
    with psycopg.connect(session_store_url) as conn:
        (worker_id,) = conn.execute(
            "SELECT worker_id FROM gateway_node_credentials WHERE session_id = 's1'"
        ).fetchone()
    assert worker_id == "node-b"

    shared.credentials_delete("s1")
    shared.credentials_delete("s1")
    assert shared.credentials_get("s1") is None


def test_first_claim_wins_and_later_ones_see_it(shared):
    assert shared.send_claim("m1", "s1", "node-a") is None

    claim = shared.send_claim("m1", "s1", "node-b")
    assert (claim["worker_id"], claim["state"], claim["wa_message_id"]) == (
        "node-a",
        "handed",
        None,
    )

    shared.send_done("m1", "sent", "3EB0AA")
    claim = shared.send_claim("m1", "s1", "node-b")
    assert (claim["worker_id"], claim["state"], claim["wa_message_id"]) == (
        "node-a",
        "sent",
        "3EB0AA",
    )


def test_released_claim_can_be_taken_again_but_a_finished_one_stays(shared):
    shared.send_claim("m1", "s1", "node-a")
    shared.send_release("m1")
    assert shared.send_get("m1") is None
    assert shared.send_claim("m1", "s1", "node-b") is None

    shared.send_done("m1", "failed", error_code="recipient_not_on_whatsapp")
    shared.send_release("m1")
    claim = shared.send_get("m1")
    assert (claim["state"], claim["error_code"]) == ("failed", "recipient_not_on_whatsapp")


def test_only_sent_or_failed_end_a_claim(shared):
    shared.send_claim("m1", "s1", "node-a")
    with pytest.raises(ValueError, match="sent or failed"):
        shared.send_done("m1", "handed")


def test_racing_claims_give_exactly_one_winner(session_store_url, shared):
    stores = [SharedSessionStore(session_store_url) for _ in range(6)]
    for store in stores:
        assert store.store_id == shared.store_id
    winners = []

    def claim(index, store):
        if store.send_claim("m1", "s1", f"node-{index}") is None:
            winners.append(index)

    all_at_once(claim, stores)
    assert len(winners) == 1
    assert shared.send_get("m1")["worker_id"] == f"node-{winners[0]}"


def test_a_dropped_connection_is_replaced(session_store_url, shared):
    shared.credentials_save("s1", "sandbox", {"jid": "x"}, "node-a")
    with psycopg.connect(session_store_url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert killed >= 1

    assert shared.credentials_get("s1") == ("sandbox", {"jid": "x"})


def test_unreachable_store_raises_psycopg_error():
    store = SharedSessionStore(UNREACHABLE_URL)
    with pytest.raises(psycopg.Error):
        store.credentials_get("s1")
    with pytest.raises(psycopg.Error):
        store.send_claim("m1", "s1", "node-a")
    with pytest.raises(psycopg.Error):
        _ = store.store_id
    assert "nowhere" not in repr(store)


def test_prune_deletes_only_old_claims(session_store_url, shared):
    assert shared.send_claim("msg_old", "s1", "node-a") is None
    assert shared.send_claim("msg_new", "s1", "node-a") is None
    with psycopg.connect(session_store_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE gateway_node_sends SET updated_at = now() - interval '8 days'"
            " WHERE message_id = 'msg_old'"
        )

    assert shared.sends_prune(7 * 24 * 3600) == 1

    assert shared.send_get("msg_old") is None
    assert shared.send_get("msg_new")["worker_id"] == "node-a"
    assert shared.sends_prune(7 * 24 * 3600) == 0
