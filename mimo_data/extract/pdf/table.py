"""Tables found from text geometry: rows of three or more cells whose columns line up."""

from __future__ import annotations

from mimo_data.extract.pdf.spans import Line

_MIN_CELLS = 3
_MIN_TABLE_ROWS = 2
# Table cells hold numbers and short labels, while a prose column line has 40 or more characters.
_MAX_MEDIAN_CELL_CHARS = 30


def _rows(lines: list[Line]) -> list[list[Line]]:
    """Group lines whose vertical extents overlap into rows, top to bottom."""
    rows: list[list[Line]] = []
    bottom = -1.0
    for line in sorted(lines, key=lambda line: line.bbox[1]):
        if rows and line.bbox[1] < bottom - 1:
            rows[-1].append(line)
            bottom = max(bottom, line.bbox[3])
        else:
            rows.append([line])
            bottom = line.bbox[3]
    return rows


def find_tables(lines: list[Line]) -> tuple[list[tuple[list[Line], str]], list[Line]]:
    """Return each table as (its lines, Markdown) and the lines that belong to no table.

    A table is a run of at least two rows with three or more cells, where single-cell rows
    between them (section labels, wrapped cells) are kept inside the table.
    """
    rows = _rows(lines)
    tables: list[tuple[list[Line], str]] = []
    used: set[int] = set()
    start = 0
    while start < len(rows):
        if len(rows[start]) < _MIN_CELLS:
            start += 1
            continue
        end = start
        for index in range(start + 1, len(rows)):
            if len(rows[index]) >= _MIN_CELLS:
                end = index
            elif len(rows[index]) > 1 or index - end > 1:
                break
        grid_rows = rows[start : end + 1]
        if _is_grid(grid_rows):
            table_lines = [line for row in grid_rows for line in row]
            tables.append((table_lines, _markdown(grid_rows)))
            used.update(id(line) for line in table_lines)
        start = end + 1
    return tables, [line for line in lines if id(line) not in used]


def _is_grid(rows: list[list[Line]]) -> bool:
    """Tell whether rows form a table: enough multi-cell rows, three columns and short cells.

    Side-by-side prose columns also give rows of several lines, but their lines are long.
    """
    if sum(len(row) >= _MIN_CELLS for row in rows) < _MIN_TABLE_ROWS or len(_columns(rows)) < _MIN_CELLS:
        return False
    lengths = sorted(len(line.text.strip()) for row in rows for line in row)
    return lengths[len(lengths) // 2] <= _MAX_MEDIAN_CELL_CHARS


def _columns(rows: list[list[Line]]) -> list[tuple[float, float]]:
    """Merge the x-ranges of cells in multi-cell rows into column ranges, left to right."""
    ranges = sorted((line.bbox[0], line.bbox[2]) for row in rows if len(row) >= _MIN_CELLS for line in row)
    columns: list[list[float]] = []
    for x0, x1 in ranges:
        if columns and x0 <= columns[-1][1]:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    return [(x0, x1) for x0, x1 in columns]


def _column_of(line: Line, columns: list[tuple[float, float]]) -> int:
    centre = (line.bbox[0] + line.bbox[2]) / 2
    for index, (x0, x1) in enumerate(columns):
        if x0 - 2 <= line.bbox[0] <= x1 or x0 <= centre <= x1:
            return index
    return min(range(len(columns)), key=lambda index: abs(columns[index][0] - line.bbox[0]))


def _markdown(rows: list[list[Line]]) -> str:
    columns = _columns(rows)
    table: list[list[str]] = []
    for row in rows:
        cells = [""] * len(columns)
        if len(row) == 1:
            # A label across the table (a section row) goes in the first cell.
            cells[0] = row[0].text.strip()
        else:
            for line in sorted(row, key=lambda line: line.bbox[1]):
                index = _column_of(line, columns)
                cells[index] = f"{cells[index]} {line.text.strip()}".strip()
        table.append([cell.replace("|", "\\|") for cell in cells])
    header = "| " + " | ".join(table[0]) + " |"
    separator = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(cells) + " |" for cells in table[1:]]
    return "\n".join([header, separator, *body])
