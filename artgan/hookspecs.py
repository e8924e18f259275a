"""The hooks artgan plugins implement. These names and signatures are a public contract.

A plugin is a module (or a pip package exposing one through the ``artgan`` entry-point
group) with functions decorated by :data:`artgan.hookimpl`. Each ``register_*`` hook
receives a ``register`` callback::

    register(name, factory, *, description="", options=NoOptions, aliases=())

``factory`` is a callable or a lazy ``"module:attribute"`` string. artgan calls it with
the validated options instance plus what the data determines:

- generators and discriminators: ``factory(options, *, resolution, channels, num_classes)``
- losses, metrics and augmentations: ``factory(options)``
- data sources: ``factory(argument, options, *, resolution, channels, seed)`` where
  ``argument`` is the text after the colon in ``--data NAME:ARGUMENT`` (or None).

Hookspecs only grow: arguments may be added (an implementation may accept a subset),
never renamed or removed.
"""

import pluggy

hookspec = pluggy.HookspecMarker("artgan")
#: Marks a plugin's hook implementations: ``@artgan.hookimpl``.
hookimpl = pluggy.HookimplMarker("artgan")


@hookspec
def register_generators(register):
    """Register generators (subclasses of :class:`artgan.core.Generator`)."""


@hookspec
def register_discriminators(register):
    """Register discriminators (subclasses of :class:`artgan.core.Discriminator`)."""


@hookspec
def register_losses(register):
    """Register adversarial losses (subclasses of :class:`artgan.core.Loss`)."""


@hookspec
def register_data_sources(register):
    """Register data sources (subclasses of :class:`artgan.core.DataSource`)."""


@hookspec
def register_metrics(register):
    """Register metrics (subclasses of :class:`artgan.core.Metric`)."""


@hookspec
def register_augmentations(register):
    """Register differentiable augmentations for the discriminator (DiffAugment).

    ``factory(options)`` returns an ``nn.Module`` (ideally a subclass of
    :class:`artgan.core.augment.Augmentation`) mapping images (N, C, H, W) in [-1, 1] to
    the same shape, differentiably, with random parameters drawn per sample from torch's
    global generator, and the identity at strength 0. ``artgan run --augment a,b`` applies
    them in that order to every image D sees, real and generated.
    """


@hookspec
def register_commands(cli):
    """Add Click commands to the ``artgan`` group: ``@cli.command()`` inside the hook."""
