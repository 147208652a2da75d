from django.contrib.auth.models import AnonymousUser, Group

from apps.catalog.models import Product
from marketplace.tenancy import can_access_exhibitor, exhibitor_ids_for, is_operator, scope_to_user
from tests.factories import ProductFactory, UserFactory


def test_staff_see_only_their_exhibitors_rows(staff_a, exhibitor_a, exhibitor_b):
    # Given products of two exhibitors
    mine = ProductFactory(exhibitor=exhibitor_a)
    ProductFactory(exhibitor=exhibitor_b)
    # When staff of A scope the product table
    scoped = scope_to_user(Product.objects.all(), staff_a, path="exhibitor_id")
    # Then only A's product is there
    assert list(scoped) == [mine]
    assert exhibitor_ids_for(staff_a) == frozenset({exhibitor_a.pk})
    assert can_access_exhibitor(staff_a, exhibitor_a.pk)
    assert not can_access_exhibitor(staff_a, exhibitor_b.pk)


def test_operators_see_everything(operator, exhibitor_a, exhibitor_b, settings):
    ProductFactory(exhibitor=exhibitor_a)
    ProductFactory(exhibitor=exhibitor_b)
    assert scope_to_user(Product.objects.all(), operator, path="exhibitor_id").count() == 2

    group_member = UserFactory()
    group_member.groups.add(Group.objects.get_or_create(name=settings.MARKETPLACE["OPERATORS_GROUP"])[0])
    assert is_operator(group_member)
    assert scope_to_user(Product.objects.all(), group_member, path="exhibitor_id").count() == 2


def test_shoppers_inactive_and_anonymous_users_see_nothing(exhibitor_a, staff_a):
    ProductFactory(exhibitor=exhibitor_a)
    shopper = UserFactory()
    assert not scope_to_user(Product.objects.all(), shopper, path="exhibitor_id").exists()
    assert not scope_to_user(Product.objects.all(), AnonymousUser(), path="exhibitor_id").exists()
    staff_a.is_active = False
    assert not scope_to_user(Product.objects.all(), staff_a, path="exhibitor_id").exists()
    assert not is_operator(AnonymousUser())


def test_membership_is_read_once_per_request_user(staff_a, django_assert_num_queries):
    exhibitor_ids_for(staff_a)
    with django_assert_num_queries(0):
        exhibitor_ids_for(staff_a)
