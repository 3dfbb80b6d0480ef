"""Messages: the delivery ledger of outbound messages, building what the node gets (payloads),
sending, the statuses nodes report, incoming messages, the history kept on the node."""
