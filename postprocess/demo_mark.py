"""Outputs made from the demo's replica say so: a marker file in the data folder.

`python -m tools.demo` writes DEMO_MARKER into its data folder; everything made from it then
says DATOS DE DEMOSTRACIÓN, so that the replica's invented permits are never taken for La
Paz's: the merge's console lines and every row of its table (the column DEMO_COLUMN, which
the formats that hold a note also turn into one: the `.xlsx`'s first sheet, the GeoPackage's
and Datasette's title and description), and the report's summary and charts (across each
chart, in its PNG's metadata and in its heading in the summary).
"""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the merge, which reads only the constants, draws nothing
    from matplotlib.figure import Figure

DEMO_MARKER = "DEMOSTRACION.txt"
DEMO_MARK = "DATOS DE DEMOSTRACIÓN"
DEMO_NOTE = (
    "Datos de demostración: los escribió python -m tools.demo desde una réplica local del"
    " sitio; los permisos son inventados, no los de La Paz."
)
DEMO_MARKER_TEXT = DEMO_NOTE + "\n"
# True on every row of a table merged from the demo's data folder.
DEMO_COLUMN = "datos_de_demostracion"


def is_demo(data_dir: Path) -> bool:
    return (data_dir / DEMO_MARKER).is_file()


def is_demo_table(columns) -> bool:
    """Whether a table with these columns was merged from the demo's data folder."""
    return DEMO_COLUMN in columns


def write_demo_marker(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text(DEMO_MARKER_TEXT, encoding="utf-8")


def demo_title(title: str) -> str:
    """A title as an output made from the demo shows it."""
    return f"{DEMO_MARK}: {title}"


def mark_as_demo(figure: "Figure") -> None:
    """Across the whole figure: these are not La Paz's permits."""
    figure.set_label(DEMO_MARK)  # save_chart() reads it
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


def save_chart(figure: "Figure", path: Path, dpi: int) -> None:
    """A chart as a PNG; one marked as demo says so in its metadata too (Title, Description:
    what image viewers and file managers show)."""
    metadata = {"Title": DEMO_MARK, "Description": DEMO_NOTE} if is_marked(figure) else None
    figure.savefig(path, dpi=dpi, metadata=metadata)


def is_marked(figure: "Figure") -> bool:
    return figure.get_label() == DEMO_MARK
