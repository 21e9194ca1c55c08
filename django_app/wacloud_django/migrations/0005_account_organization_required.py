# The account's organization becomes required once every account has one (0004). A
# migration of its own: PostgreSQL refuses ALTER TABLE in the transaction that updated the rows.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("wacloud", "0004_organizations_roles_audit"),
    ]

    operations = [
        migrations.AlterField(
            model_name="businessaccount",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="accounts", to="wacloud.organization"
            ),
        ),
    ]
