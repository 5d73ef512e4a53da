from __future__ import annotations

import secrets

import factory
from django.contrib.auth import get_user_model

from devices.models import Device, GowaNode
from tenants.models import Membership, Tenant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    password = factory.django.Password("correct horse battery")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.OWNER


class GowaNodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GowaNode

    name = factory.Sequence(lambda n: f"node-{n}")
    base_url = "http://127.0.0.1:3000"
    basic_auth_username = "wavora"
    basic_auth_password = "sim-password"
    webhook_secret = factory.LazyFunction(lambda: secrets.token_hex(16))
    capacity = 100


class DeviceFactory(factory.django.DjangoModelFactory):
    """A device row only (no GOWA slot): for selector/isolation tests that never reach GOWA."""

    class Meta:
        model = Device

    tenant = factory.SubFactory(TenantFactory)
    node = factory.SubFactory(GowaNodeFactory)
    name = factory.Sequence(lambda n: f"Phone {n}")
