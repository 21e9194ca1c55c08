from django.db import migrations, models

PURPOSE = "wacloud.SupportRule.webhook_secret"


def encrypt_webhook_secrets(apps, schema_editor):
    """Escalation webhook secrets were stored in plain text; encrypt them like the other secrets."""
    from wacloud_django.crypto import encrypt

    SupportRule = apps.get_model("wacloud", "SupportRule")
    for rule in SupportRule.objects.exclude(webhook_secret="").only("pk", "webhook_secret"):
        SupportRule.objects.filter(pk=rule.pk).update(
            webhook_secret_encrypted=encrypt(rule.webhook_secret, PURPOSE)
        )


def decrypt_webhook_secrets(apps, schema_editor):
    from wacloud_django.crypto import decrypt

    SupportRule = apps.get_model("wacloud", "SupportRule")
    for rule in SupportRule.objects.exclude(webhook_secret_encrypted="").only("pk", "webhook_secret_encrypted"):
        SupportRule.objects.filter(pk=rule.pk).update(
            webhook_secret=decrypt(rule.webhook_secret_encrypted, PURPOSE)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("wacloud", "0011_automation_tokens_keys_analytics"),
    ]

    operations = [
        migrations.AddField(
            model_name="supportrule",
            name="webhook_secret_encrypted",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AlterField(
            model_name="supportrule",
            name="webhook_secret",
            field=models.CharField(blank=True, default="", max_length=128),
        ),
        migrations.RunPython(encrypt_webhook_secrets, decrypt_webhook_secrets),
        migrations.RemoveField(
            model_name="supportrule",
            name="webhook_secret",
        ),
    ]
