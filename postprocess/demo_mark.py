"""Outputs made from the demo's replica say so: a marker file in the data folder.

`python -m tools.demo` writes DEMO_MARKER into its data folder; the report then marks every
chart and its summary DATOS DE DEMOSTRACIÓN, so that the replica's invented permits are
never taken for La Paz's.
"""

from pathlib import Path

from matplotlib.figure import Figure

DEMO_MARKER = "DEMOSTRACION.txt"
DEMO_MARK = "DATOS DE DEMOSTRACIÓN"
DEMO_MARKER_TEXT = (
    "Datos de demostración: los escribió python -m tools.demo desde una réplica local del"
    " sitio; los permisos son inventados, no los de La Paz.\n"
)


def is_demo(data_dir: Path) -> bool:
    return (data_dir / DEMO_MARKER).is_file()


def write_demo_marker(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text(DEMO_MARKER_TEXT, encoding="utf-8")


def mark_as_demo(figure: Figure) -> None:
    """Across the whole figure: these are not La Paz's permits."""
    figure.text(
        0.5,
        0.5,
        DEMO_MARK,
        ha="center",
        va="center",
        rotation=25,
        # Across the figure, whatever its width: about 4.5 points per inch of it.
        fontsize=4.5 * figure.get_figwidth(),
        fontweight="bold",
        color="tab:red",
        alpha=0.25,
    )
