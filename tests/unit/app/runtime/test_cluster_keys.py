"""One secret no client holds; one key per purpose."""

import pytest

from app.runtime.cluster_keys import PURPOSES, ClusterKeys
from app.settings import Settings


def test_workers_with_the_same_secret_derive_the_same_keys_and_one_per_purpose():
    a = ClusterKeys(Settings(cluster_secret="s" * 24))
    b = ClusterKeys(Settings(cluster_secret="s" * 24))
    other = ClusterKeys(Settings(cluster_secret="t" * 24))
    assert a.shared and all(a.key(p) == b.key(p) != other.key(p) for p in PURPOSES)
    assert len({a.key(p) for p in PURPOSES}) == len(PURPOSES)


def test_without_the_setting_each_process_has_its_own_secret():
    a, b = ClusterKeys(Settings()), ClusterKeys(Settings())
    assert not a.shared and a.key("cursor") != b.key("cursor")


def test_keys_never_derive_from_a_token():
    tokens = dict(viewer_token="v" * 20, admin_token="a" * 20)
    assert ClusterKeys(Settings(**tokens)).key("cursor") != ClusterKeys(Settings(**tokens)).key("cursor")


@pytest.mark.parametrize("kw", [dict(viewer_token="short"), dict(admin_token="x" * 15), dict(cluster_secret="c" * 8)])
def test_secrets_shorter_than_16_bytes_are_refused(kw):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Settings(**kw)


@pytest.mark.parametrize("kw", [dict(viewer_token="x" * 16, admin_token="x" * 16),
                                dict(viewer_token="v" * 16, cluster_secret="v" * 16),
                                dict(admin_token="a" * 16, cluster_secret="a" * 16)])
def test_equal_secrets_are_refused(kw):
    with pytest.raises(ValueError, match="must differ"):
        Settings(**kw)
