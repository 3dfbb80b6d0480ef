# The session's `credential_store` is the id of the same shared session store its node reports as
# `session_store`: one name for one thing.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0005_session_moved_from"),
    ]

    operations = [
        migrations.RenameField(
            model_name="session", old_name="credential_store", new_name="session_store"
        ),
        migrations.AlterField(
            model_name="session",
            name="session_store",
            field=models.CharField(
                blank=True,
                help_text="The shared session store holding the session's login (its node's "
                "session_store when it last connected); empty = a node's own files, or logged out.",
                max_length=64,
            ),
        ),
    ]
