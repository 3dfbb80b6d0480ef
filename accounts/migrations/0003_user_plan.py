import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """`tier` becomes a key to billing.Plan by its tier code; the column keeps its name and its
    values (BASIC, PRO, ENTERPRISE, all seeded by billing 0003)."""

    dependencies = [
        ("accounts", "0002_initial"),
        ("billing", "0003_plans"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="tier",
            field=models.CharField(default="BASIC", max_length=12),
        ),
        migrations.RenameField(model_name="user", old_name="tier", new_name="plan"),
        migrations.AlterField(
            model_name="user",
            name="plan",
            field=models.ForeignKey(
                db_column="tier",
                default="BASIC",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="users",
                to="billing.plan",
                to_field="tier",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="suspended_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Set: the user's keys answer 401 account_suspended.",
                null=True,
            ),
        ),
    ]
