"""Django app for the WhatsApp Business Cloud API (app label ``wacloud``)."""
