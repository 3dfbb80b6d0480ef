"""What a node agent sends when it registers, shared by the node API tests."""

REGISTER = {
    "workerId": "node-a",
    "endpoint": "node.node-a",
    "maxSessions": 50,
    "engines": ["sandbox", "whatsapp"],
    "version": "0.1.0",
}
