"""Pictures of codec targets and round trips (matplotlib, an optional extra).

``pip install ".[viz]"`` (in a checkout) or ``pip install matplotlib`` installs matplotlib. It is imported lazily,
inside the drawing functions, with the non-interactive Agg backend, so
importing ``jaxcodecs.viz`` never needs it and never opens a window; without
it they raise :class:`MissingMatplotlibError`.

Coordinates are input pixels, ``(x, y)``, x right, y down, a pixel's centre
at its integer coordinate (SPEC.md §2).

Every codec gets a picture of its own kind (:data:`KINDS`), chosen by
:func:`panel_kind` from what the codec declares and encodes: heatmaps over
the skeleton, SimCC's 1-D distributions along the image's axes, offset and
displacement fields as arrows, lifting's 2-D input beside the 3-D pose,
Hand3D's volume projections, bottom-up people in their own colours, boxes::

    batch = examples.example_batch(codec, 2)
    panel = viz.make_panel(codec, batch)          # encodes and decodes sample 0
    viz.plot_panels("codec.png", [panel])         # or viz.panel_figure(panel)
"""

from jaxcodecs.viz._common import MissingMatplotlibError, summed_heatmap
from jaxcodecs.viz._draw import draw_panel, panel_figure, plot_panels
from jaxcodecs.viz._panels import KINDS, Panel, decoded_by_name, make_panel, panel_kind
from jaxcodecs.viz._roundtrip import plot_round_trip, plot_round_trips

__all__ = [
    "KINDS", "MissingMatplotlibError", "Panel", "decoded_by_name", "draw_panel", "make_panel",
    "panel_figure", "panel_kind", "plot_panels", "plot_round_trip", "plot_round_trips", "summed_heatmap",
]
