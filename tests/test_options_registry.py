from dataclasses import dataclass

import pytest

from artgan.core.config import ConfigError, parse_data_spec

from .helpers import resolved
from artgan.core.options import OptionError, build_options, option, parse_overrides
from artgan.core.registry import Entry, RegistrationError, Registry, UnknownComponentError
from artgan.plugin_host import get_registry


@dataclass(frozen=True)
class Opts:
    width: int = option(8, "Width.", min=1)
    rate: float = option(0.5, "Rate.", max=1.0)
    mode: str = option("a", "Mode.", choices=("a", "b"))
    flag: bool = option(False, "Flag.")


def test_options_convert_strings_and_check_ranges():
    opts = build_options(Opts, {"width": "16", "rate": "0.25", "mode": "b", "flag": "yes"},
                         owner="gen x")
    assert opts == Opts(16, 0.25, "b", True)
    with pytest.raises(OptionError, match="width must be >= 1"):
        build_options(Opts, {"width": "0"}, owner="gen x")
    with pytest.raises(OptionError, match="expects a int"):
        build_options(Opts, {"width": "wide"}, owner="gen x")
    with pytest.raises(OptionError, match="must be one of a, b"):
        build_options(Opts, {"mode": "c"}, owner="gen x")


def test_unknown_option_lists_valid_keys():
    with pytest.raises(OptionError, match="unknown option depth for gen x; valid options: "
                                          "flag, mode, rate, width"):
        build_options(Opts, {"depth": 3}, owner="gen x")


def test_parse_overrides():
    assert parse_overrides(["gen.ngf=32", "loss.label-smoothing=0.1"])["loss"] == \
        {"label_smoothing": "0.1"}
    with pytest.raises(OptionError, match="unknown group"):
        parse_overrides(["optim.lr=1"])
    with pytest.raises(OptionError, match="GROUP.KEY=VALUE"):
        parse_overrides(["ngf=32"])


def test_duplicate_names_fail_naming_both_plugins():
    reg = Registry()
    reg.add(Entry("loss", "gan", lambda o: None, plugin="first"))
    with pytest.raises(RegistrationError, match="'first'.*'second'"):
        reg.add(Entry("loss", "gan", lambda o: None, plugin="second"))


def test_bad_registrations_are_rejected():
    reg = Registry()
    with pytest.raises(RegistrationError, match="kebab-case"):
        reg.add(Entry("loss", "Bad Name", lambda o: None, plugin="p"))
    with pytest.raises(RegistrationError, match="callable or a 'module:attribute'"):
        reg.add(Entry("loss", "ok", 42, plugin="p"))
    with pytest.raises(RegistrationError, match="frozen dataclass"):
        reg.add(Entry("loss", "ok", lambda o: None, options=dict, plugin="p"))


def test_unknown_name_suggests_close_matches_and_lists_all():
    with pytest.raises(UnknownComponentError) as err:
        get_registry().get("generator", "dcgna")
    msg = str(err.value)
    assert "Did you mean: dcgan" in msg and "Known generators: cgan, cyclegan, dcgan," in msg
    assert isinstance(err.value, KeyError)


def test_lookup_is_case_insensitive_and_underscore_tolerant():
    assert get_registry().get("loss", "GAN").name == "gan"
    assert get_registry().get("loss", "Non_Saturating").name == "gan"


def test_known_package_hint():
    get_registry().known_packages[("generator", "stylegan2")] = "artgan-stylegan2"
    with pytest.raises(UnknownComponentError, match="pip install artgan-stylegan2"):
        get_registry().get("generator", "stylegan2")


@pytest.mark.parametrize("spec,expected", [
    ("folder:./paintings", ("folder", "./paintings")),
    ("demo", ("demo", None)),
    ("demo:waves", ("demo", "waves")),
    ("folder:C:\\art", ("folder", "C:\\art")),
])
def test_data_spec_parsing(spec, expected):
    assert parse_data_spec(spec, get_registry()) == expected


@pytest.mark.parametrize("spec", ["./paintings", "C:\\art", "/abs/path"])
def test_bare_paths_get_a_folder_hint(spec):
    with pytest.raises(ConfigError, match=r"did you mean --data folder:"):
        parse_data_spec(spec, get_registry())


def test_resolve_config_fills_recommendations_and_overrides():
    cfg = resolved(data="demo", options={"gen": {"ngf": "16"}}, lr_d=1e-4)
    assert cfg.components.gen.options == {"z_dim": 100, "ngf": 16}
    assert cfg.components.disc.name == "dcgan" and cfg.schedule.n_critic == 1
    assert cfg.optimisation.lr_g == 2e-4 and cfg.optimisation.lr_d == 1e-4
    assert tuple(cfg.optimisation.betas) == (0.5, 0.999)
    assert "recommended by loss 'gan'" in cfg.optimisation.source
    again = type(cfg).from_dict(cfg.to_dict())
    assert again == cfg
