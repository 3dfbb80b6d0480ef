"""The node's Celery tasks are node_agent.protocol's tasks, under the names the backend sends."""

from node_agent import protocol, tasks

# Written out, not taken from the protocol: the names on the wire must not change.
WIRE_NAMES = {
    "node_agent.tasks.session_start": tasks.session_start,
    "node_agent.tasks.session_stop": tasks.session_stop,
    "node_agent.tasks.session_logout": tasks.session_logout,
    "node_agent.tasks.session_delete": tasks.session_delete,
    "node_agent.tasks.message_send": tasks.message_send,
    "node_agent.tasks.messages_list": tasks.messages_list,
    "node_agent.tasks.check_number": tasks.check_number,
    "node_agent.tasks.sandbox_action": tasks.sandbox_action,
    "node_agent.tasks.group_call": tasks.group_call,
    "node_agent.tasks.contact_call": tasks.contact_call,
    "node_agent.tasks.chat_call": tasks.chat_call,
}


def test_every_protocol_task_is_a_node_task_under_its_wire_name():
    assert {task.name for task in protocol.NODE_TASKS} == set(WIRE_NAMES)
    for name, node_task in WIRE_NAMES.items():
        assert node_task.name == name


def test_rpc_tasks_store_their_answer_and_are_acknowledged_early():
    for task in protocol.NODE_TASKS:
        node_task = WIRE_NAMES[task.name]
        if task.rpc:
            assert (node_task.ignore_result, node_task.acks_late) == (False, False), task.name
        else:
            assert node_task.acks_late is not False, task.name
    assert {t.name for t in protocol.NODE_TASKS if t.rpc} == {
        "node_agent.tasks.messages_list",
        "node_agent.tasks.check_number",
        "node_agent.tasks.group_call",
        "node_agent.tasks.contact_call",
        "node_agent.tasks.chat_call",
    }


def test_message_send_hands_over_to_the_lanes_which_retry_six_times():
    from node_agent.send_queue import SEND_MAX_ATTEMPTS

    assert SEND_MAX_ATTEMPTS == 7  # the first try and six more
