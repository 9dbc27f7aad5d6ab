"""Input and output shapes of the users API."""

from rest_framework import serializers

from midnite_test.serializers import PlainCharField, StrictEmailField, StrictSerializer


class UserRegisterInputSerializer(StrictSerializer):
    """POST /users: the user to register, once per email whatever its letter case."""

    email = StrictEmailField(max_length=254)
    first_name = PlainCharField(max_length=150, allow_blank=True)
    last_name = PlainCharField(max_length=150, allow_blank=True)


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    created_at = serializers.DateTimeField()
