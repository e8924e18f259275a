"""Resolution: a :class:`RunRequest` (the user's raw choices) becomes a :class:`RunPlan`.

Every name is looked up, every option validated, every default filled in, in this order
of precedence: what the user chose, the recipe, what the chosen components recommend
(the data source's resolution and epochs, the loss's optimiser and ``n_critic``, the
generator's partner discriminator and loss), the declared default. Each decision made
for the user is a note in the config. Errors are :class:`ConfigError` naming the flag.

Components may be given as objects instead of names (the Python API): they are recorded
in the config by their Python name (``python:module.Class``) and handed to the builder
in :attr:`RunPlan.objects`. The loss is built here (its ``n_critic``, optimiser and needs
shape the config) and reused by the builder, so it is built once.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .config import (SETTINGS, Choice, Components, Evaluation, ImageShape, Regularisation,
                     RunConfig, Runtime, Schedule, aspect_text, image_width, parse_aspect,
                     parse_data_spec)
from .errors import ConfigError
from .options import OptionError, as_dict, build_options
from .recipes import Recipe, pick_recipe
from .registry import Entry, Registry, UnknownComponentError
from .request import RunRequest
from .objects import instantiate, python_name  # noqa: F401 (public here too)
from .resolve_parts import (augment_choices, check_ada, check_finite, check_out_outside_data,
                            check_resolution, check_shape, checked, metric_choices,
                            optimisation, refuse_stray_groups, resolve_norm)

#: Request groups of component options, with the component kind they configure.
COMPONENT_GROUPS = {"gen": "generator", "disc": "discriminator", "loss": "loss", "data": "data"}
_FLAGS = {"generator": "--gen", "discriminator": "--disc", "loss": "--loss", "data": "--data",
          "metric": "--metric", "augmentation": "--augment"}


@dataclass
class RunPlan:
    """A resolved config and the objects that stand in it for names (see module doc).

    ``objects`` may hold ``gen``, ``disc``, ``data`` (instances or classes given instead
    of names), ``loss`` (the built loss), ``metrics`` ({name: object or None}) and
    ``augment`` ([module or None], in config order; None: build by name).
    """

    config: RunConfig
    objects: dict[str, Any] = field(default_factory=dict)


def resolve(request: RunRequest, registry: Registry, *,
            plugin_versions: dict[str, str] | None = None) -> RunPlan:
    """Check every choice of ``request`` and fill every default (see the module doc)."""
    return _Resolver(request, registry).plan(plugin_versions or {})


class _Resolver:
    def __init__(self, request: RunRequest, registry: Registry):
        self.request, self.registry = request, registry
        self.options = {group: dict(values) for group, values in request.options.items()}
        self.notes: list[str] = []
        self.objects: dict[str, Any] = {}
        self.recipe: Recipe = pick_recipe("none", True)
        self._recipe_count: int | None = None  # images the data source counted
        self._recipe_options: dict[str, dict[str, Any]] = {}
        self._data_entry: Entry | None = None
        self._network_entries: tuple[Entry | None, Entry | None] = (None, None)

    # -- values: the user's, the recipe's, a derived one, the declared default ----------
    def value(self, name: str, derived: Any = None, default: Any = None) -> Any:
        if name in self.request:
            return self.request.get(name)
        recipe = self.recipe.settings()
        if name in recipe:
            self.notes.append(f"recipe {self.recipe.name}: {name}={recipe[name]}")
            return recipe[name]
        if derived is not None:
            return derived
        return SETTINGS[name].default if default is None else default

    def entry(self, kind: str, name: str) -> Entry:
        try:
            return self.registry.get(kind, name)
        except UnknownComponentError as exc:
            exc.param = _FLAGS[kind]
            raise

    def choice(self, kind: str, entry: Entry, group: str, argument: str | None = None) -> Choice:
        """A registered component's choice with validated options from ``group``."""
        flag = _FLAGS[kind]
        try:
            opts = build_options(entry.options, self.options.get(group, {}),
                                 owner=f"{flag} {entry.name}")
        except OptionError as exc:
            raise ConfigError(str(exc), "-o") from exc
        return Choice(entry.name, as_dict(opts), argument)

    # -- the plan ----------------------------------------------------------------------------
    def plan(self, plugin_versions: dict[str, str]) -> RunPlan:
        for name in self.request:
            check_finite(name, self.request.get(name))
        self.recipe = self._recipe()
        components, loss = self._components()
        image = self._image(components)
        regularisation = self._regularisation()
        config = RunConfig(
            components=components, image=image, schedule=self._schedule(loss),
            optimisation=optimisation(self, loss, components.loss.name),
            regularisation=regularisation, evaluation=self._evaluation(),
            runtime=self._runtime(components, plugin_versions), notes=())
        refuse_stray_groups(self.options, config, set(COMPONENT_GROUPS))
        self.objects["loss"] = loss
        return RunPlan(config.replace(notes=tuple(self.notes)), self.objects)

    def _recipe(self) -> Recipe:
        data = self.request.get("data")
        count = None
        if isinstance(data, str):
            count = self._count(data)
        elif data is not None and not isinstance(data, type):
            count = len(data)
        recipe = pick_recipe(self.request.get("recipe", "auto"), "data" in self.request, count)
        gpu = _on_gpu(self.request.get("device"))
        picks = self._architecture_fits(recipe.architecture_gpu if gpu else recipe.architecture)
        if picks:
            recipe = recipe.with_architecture(gpu)
        if recipe.why and self.request.get("recipe", "auto") == "auto":
            counted = "" if count is None else f" ({count} counted)"
            chosen = f"; {recipe.why_architecture}" if picks else ""
            self.notes.append(f"recipe {recipe.name}: {recipe.why}{counted}{chosen}")
        self._recipe_count, self._recipe_options = count, recipe.options()
        return recipe

    def _architecture_fits(self, architecture: dict[str, Any]) -> bool:
        """Whether a recipe's architecture applies: the user named no ``--gen``, and its
        generator is installed and can train at the resolution the run will have."""
        name = architecture.get("gen")
        if name is None or "gen" in self.request:
            return False
        try:
            entry = self.registry.get("generator", name)
        except UnknownComponentError:
            return False
        sizes = getattr(entry.component_class(), "resolutions", None)
        wanted = self.request.get("resolution") or self._data_resolution()
        return wanted is None or sizes is None or wanted in sizes

    def _data_resolution(self) -> int | None:
        """The resolution the data would give the run when ``--resolution`` is not given
        (as :meth:`_image` derives it): a data object's own, else its source's default
        (the demo art's 32 px)."""
        data = self.request.get("data")
        if data is not None and not isinstance(data, (str, type)):
            return getattr(data, "resolution", None)
        if isinstance(data, str):
            try:
                data = self.registry.get("data", parse_data_spec(data)[0]).component_class()
            except UnknownComponentError:
                return None
        return getattr(data, "default_resolution", None)

    def _count(self, spec: str) -> int | None:
        """How many images ``--data`` holds, if its source can say cheaply (else None)."""
        name, argument = parse_data_spec(spec)
        try:
            entry = self.registry.get("data", name)
            opts = build_options(entry.options, self.options.get("data", {}),
                                 owner=f"--data {name}")
        except (UnknownComponentError, OptionError):
            return None  # reported with the right flag below
        counter = getattr(entry.component_class(), "count_images", None)
        return None if counter is None else counter(argument, opts)

    def _apply_recipe_options(self, group: str, entry: Entry) -> None:
        """The recipe's options for ``group`` (``gen.ngf``), where the user set none and
        the component has that option."""
        wanted = self._recipe_options.get(group, {})
        names = {f.name for f in dataclasses.fields(entry.options)}
        mine = self.options.setdefault(group, {})
        for key, value in wanted.items():
            if key in names and key not in mine:
                mine[key] = value
                self.notes.append(f"recipe {self.recipe.name}: {group}.{key}={value}")

    def _component(self, group: str, kind: str, value: Any) -> tuple[Choice, Entry | None]:
        """A component named or given as an object."""
        if not isinstance(value, str):
            self.objects[group] = value
            return Choice(python_name(value)), None
        argument = None
        if kind == "data":
            value, argument = parse_data_spec(value)
        entry = self.entry(kind, value)
        self._apply_recipe_options(group, entry)
        return self.choice(kind, entry, group, argument), entry

    def _components(self):
        gen_value = self.value("gen")
        gen_entry = self.entry("generator", gen_value) if isinstance(gen_value, str) else None
        pairs = dict(gen_entry.defaults) if gen_entry is not None else {}
        image_to_image = gen_entry is not None and getattr(
            gen_entry.component_class(), "condition_channels_for", lambda c: 0)(3) > 0
        if image_to_image and self.recipe.step_budget:  # small-data: for noise generators
            self.notes.append(f"recipe {self.recipe.name} not applied: --gen {gen_entry.name} "
                              f"turns input images into images")
            self.recipe, self._recipe_options = pick_recipe("none", True), {}
        data_value = self.request.get("data") or pairs.get("data")
        if data_value is not None and "data" not in self.request:
            self.notes.append(f"--gen {gen_entry.name} trains on --data {data_value} unless "
                              f"you give --data")
        elif data_value is None:
            data_value = self.value("data", default="demo")
        data, _ = self._component("data", "data", data_value)
        self._data_entry = None if "data" in self.objects else self.entry("data", data.name)
        gen, gen_entry = self._component("gen", "generator", gen_value)
        disc_value = self.value("disc", derived=pairs.get("disc"))
        if disc_value is None:
            if gen_entry is None:
                raise ConfigError("a generator object needs a discriminator too: pass disc= "
                                  "(a name, an instance or a class)", "--disc")
            disc_value = self._family_discriminator(gen_entry)
        disc, disc_entry = self._component("disc", "discriminator", disc_value)
        loss_value = self.value("loss", derived=pairs.get("loss"), default="gan")
        loss_choice, loss = self._loss(loss_value)
        disc, norm_notes = resolve_norm(disc, loss, loss_choice.name)
        self.notes += norm_notes
        self._network_entries = (gen_entry, disc_entry)
        components = Components(gen=gen, disc=disc, loss=loss_choice, data=data,
                                recipe=self.recipe.name)
        return components, loss

    def _family_discriminator(self, gen: Entry) -> str:
        """The discriminator of the generator's family (same name), else dcgan (noted)."""
        try:
            return self.registry.get("discriminator", gen.name).name
        except UnknownComponentError:
            self.notes.append(f"--gen {gen.name} names no discriminator to pair with and no "
                              f"discriminator is called {gen.name!r}: using dcgan (choose "
                              f"with --disc)")
            return "dcgan"

    def _loss(self, value: Any) -> tuple[Choice, Any]:
        if not isinstance(value, str):
            loss = instantiate(value)
            return Choice(python_name(loss)), loss
        entry = self.entry("loss", value)
        choice = self.choice("loss", entry, "loss")
        return choice, self.registry.build("loss", entry.name, choice.options)

    def _image(self, components: Components) -> ImageShape:
        data_obj = self.objects.get("data")
        data_cls = self._data_entry.component_class() if self._data_entry else None
        shape_from = data_obj if data_obj is not None and not isinstance(data_obj, type) \
            else None
        resolution = self.value("resolution", derived=getattr(shape_from, "resolution", None)
                                or getattr(data_cls, "default_resolution", 64))
        channels = self.value("channels", derived=getattr(shape_from, "channels", None))
        resolution = checked(SETTINGS["resolution"], resolution)
        check_resolution(resolution, self._network_entries)
        given = getattr(shape_from, "width", None)  # a data object's own width
        derived = aspect_text(Fraction(int(given), resolution)) \
            if given and getattr(shape_from, "resolution", None) == resolution else None
        ratio = parse_aspect(self.value("aspect", derived=derived))
        aspect = aspect_text(ratio)
        square_only = None if shape_from is not None else data_cls
        try:
            width = image_width(resolution, aspect)
        except ConfigError:  # a network that cannot do this aspect at all says so first
            check_shape(resolution, round(resolution * ratio), aspect, self._network_entries,
                        None, components.data.spec)
            raise
        check_shape(resolution, width, aspect, self._network_entries, square_only,
                    components.data.spec)
        return self.fill(ImageShape, resolution=resolution,
                         channels=checked(SETTINGS["channels"], channels), aspect=aspect)

    def fill(self, cls: type, **resolved: Any):
        """A config group: the ``resolved`` fields as given, every other setting from
        :meth:`value` (checked against its declaration), derived fields at their default."""
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in resolved:
                values[f.name] = resolved[f.name]
            elif f.name in SETTINGS:
                values[f.name] = checked(SETTINGS[f.name], self.value(f.name))
        return cls(**values)

    def _schedule(self, loss: Any) -> Schedule:
        batch = checked(SETTINGS["batch_size"], self.value("batch_size"))
        epochs = self.request.get("epochs")
        return self.fill(Schedule, batch_size=batch,
                         epochs=checked(SETTINGS["epochs"], epochs) if epochs is not None
                         else self._epochs(batch),
                         n_critic=int(getattr(loss, "n_critic", 1)))

    def _epochs(self, batch: int) -> int:
        """The recipe's epochs, or enough for its step budget on a counted data set, or
        the data source's default."""
        if "epochs" in self.recipe.settings():
            return int(self.value("epochs"))
        count = self._recipe_count
        if self.recipe.step_budget and count:
            epochs = -(-self.recipe.step_budget // max(1, count // batch))
            self.notes.append(f"recipe {self.recipe.name}: epochs={epochs} (at least "
                              f"{self.recipe.step_budget} steps on {count} images)")
            return epochs
        data_cls = self._data_entry.component_class() if self._data_entry else None
        data_obj = self.objects.get("data")
        return int(getattr(data_cls or data_obj, "default_epochs", 25))

    def _regularisation(self) -> Regularisation:
        reg = self.fill(Regularisation, augment=augment_choices(self, self.value("augment")))
        check_ada(reg)
        return reg

    def _evaluation(self) -> Evaluation:
        return self.fill(Evaluation,
                         metrics=metric_choices(self, self.request.get("metrics", ())))

    def _runtime(self, components: Components, plugin_versions: dict[str, str]) -> Runtime:
        out = str(self.value("out") or default_run_dir(components))
        check_out_outside_data(out, components.data, self._data_entry)
        return self.fill(Runtime, out=out, plugin_versions=dict(plugin_versions))


def _on_gpu(device: str | None) -> bool:
    """Whether ``--device`` means a CUDA device (``auto``: when one is available)."""
    spec = (device or "auto").strip().lower()
    if spec.startswith("cuda"):
        return True
    if spec != "auto":
        return False
    import torch  # here: resolving is also done by commands that stay free of torch

    return torch.cuda.is_available()


def default_run_dir(components: Components) -> str:
    """``runs/<time>-<gen>-<loss>-<data>`` (Python objects by their class name)."""
    def short(choice: Choice) -> str:
        return choice.name.rpartition(".")[2] if choice.name.startswith("python:") \
            else choice.name
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parts = [short(c) for c in (components.gen, components.loss, components.data)]
    return str(Path("runs") / "-".join([stamp, *parts]))
