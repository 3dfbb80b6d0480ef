"""`python manage.py issue_node_credential --worker-id ID [--note N] [--revoke-others]`: issue a
node its own secret.

The secret is printed as the last line of standard output and is never shown again; set it as
that node's BACKEND_AUTH_TOKEN. `--revoke-others` revokes the node's earlier credentials (once
the node runs with the new one: a rotation).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from workers_app.credentials import node_credential_issue, node_credential_revoke
from workers_app.models import NodeCredential


class Command(BaseCommand):
    help = "Issue a node credential; prints the secret as the last line."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--worker-id", required=True, help="The node's WORKER_ID.")
        parser.add_argument("--note", default="")
        parser.add_argument(
            "--revoke-others", action="store_true", help="Revoke the node's earlier credentials."
        )

    def handle(self, *args: Any, worker_id: str, note: str, revoke_others: bool, **_: Any) -> None:
        try:
            issued = node_credential_issue(worker_id=worker_id, note=note)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if revoke_others:
            earlier = NodeCredential.objects.filter(
                worker_id=worker_id, revoked_at__isnull=True
            ).exclude(pk=issued.credential.pk)
            for credential in earlier:
                node_credential_revoke(credential_id=credential.pk)
        self.stderr.write(
            f"Credential {issued.credential.prefix}… issued for node {worker_id}; "
            "it will not be shown again."
        )
        self.stdout.write(issued.secret)
