"""Rebuild LaTeX from the glyph geometry of a formula: scripts, fractions, limits, symbols.

A formula arrives as spans with their boxes and font sizes, plus the horizontal rules
drawn near it. Scripts are smaller spans raised or lowered against the span before them,
a fraction is text above and below a rule, and a big operator takes the small spans
stacked over and under it as limits.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from mimo_data.extract.pdf.spans import Span

# Unicode characters and their LaTeX commands; letters and digits are written as they are.
_LATEX_COMMANDS = {
    "∑": r"\sum", "∫": r"\int", "∏": r"\prod", "∮": r"\oint", "∈": r"\in", "∉": r"\notin", "∋": r"\ni",
    "×": r"\times", "⋅": r"\cdot", "·": r"\cdot", "−": "-", "±": r"\pm", "∓": r"\mp", "≤": r"\leq",
    "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "≡": r"\equiv", "∼": r"\sim", "≅": r"\cong",
    "∝": r"\propto", "∞": r"\infty", "∂": r"\partial", "∇": r"\nabla", "→": r"\to", "←": r"\leftarrow",
    "↔": r"\leftrightarrow", "⇒": r"\Rightarrow", "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow",
    "↦": r"\mapsto", "⊂": r"\subset", "⊃": r"\supset", "⊆": r"\subseteq", "⊇": r"\supseteq",
    "∪": r"\cup", "∩": r"\cap", "∧": r"\wedge", "∨": r"\vee", "¬": r"\neg", "∀": r"\forall",
    "∃": r"\exists", "∅": r"\emptyset", "√": r"\sqrt", "′": r"\prime", "″": r"\prime\prime",
    "⊗": r"\otimes", "⊕": r"\oplus", "∘": r"\circ", "⟨": r"\langle", "⟩": r"\rangle", "∥": r"\|",
    "⊥": r"\perp", "ℓ": r"\ell", "…": r"\ldots", "⋯": r"\cdots", "{": r"\{", "}": r"\}",
    "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "ℚ": r"\mathbb{Q}", "ℂ": r"\mathbb{C}",
    "%": r"\%", "#": r"\#", "&": r"\&",
}
_GREEK_NAMES = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lamda",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "final sigma",
}
_BIG_OPERATORS = {"∑", "∫", "∏", "∮"}
# A span at most this share of the base size is a script (TeX sets scripts at 0.7 of the text size).
_SCRIPT_SIZE_RATIO = 0.88


class FormulaLayoutError(Exception):
    """Raised when the glyphs of a formula do not form one baseline that this module can rebuild."""


@dataclass
class _Atom:
    latex: str
    size: float
    bbox: tuple[float, float, float, float]
    chars: int = 1

    @property
    def y_mid(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2


def char_latex(char: str, span: Span) -> str:
    """Return the LaTeX for one character of a formula span, keeping the span's bold face."""
    if char in _LATEX_COMMANDS:
        return _LATEX_COMMANDS[char]
    name = unicodedata.name(char, "").lower()
    if name.startswith("greek") and "letter" in name:
        letter = name.split("letter ")[-1]
        if letter in _GREEK_NAMES:
            command = "lambda" if letter == "lamda" else letter.replace("final ", "var")
            return "\\" + (command.capitalize() if "capital" in name else command)
    if char.isalpha() and char.isascii():
        if span.bold:
            return rf"\mathbf{{{char}}}"
        if span.font.lower().startswith("cmsy") and char.isupper():
            return rf"\mathcal{{{char}}}"
    return char


def span_latex(span: Span) -> str:
    return join_latex([char_latex(char, span) for char in span.text if not char.isspace()])


def join_latex(parts: list[str]) -> str:
    """Concatenate LaTeX pieces, with a space only where a command name would run into a letter."""
    text = ""
    for part in parts:
        if not part:
            continue
        if text and _ends_with_command(text) and part[0].isalpha():
            text += " "
        text += part
    return text


def _ends_with_command(text: str) -> bool:
    index = len(text) - 1
    while index >= 0 and text[index].isalpha():
        index -= 1
    return index >= 0 and text[index] == "\\"


def formula_latex(spans: list[Span], rules: list[tuple[float, float, float, float]]) -> str:
    """Rebuild one formula from its spans and the horizontal rules drawn among them.

    Raises FormulaLayoutError when the full-size glyphs left after fractions and limits do
    not share one baseline (stacked lines, matrices), so the caller keeps the text instead.
    """
    atoms = [_Atom(span_latex(span), span.size, span.bbox, len(span.text.strip())) for span in spans if span.text.strip()]
    atoms = _fold_fractions(atoms, rules)
    atoms = _fold_limits(atoms, spans)
    return _row_latex(sorted(atoms, key=lambda atom: atom.bbox[0]), check_baseline=True)


def _fold_fractions(atoms: list[_Atom], rules: list[tuple[float, float, float, float]]) -> list[_Atom]:
    """Replace the atoms above and below each fraction rule, widest rule first, by one \\frac atom."""
    for x0, y0, x1, y1 in sorted(rules, key=lambda rule: rule[0] - rule[2]):
        rule_y = (y0 + y1) / 2

        def over_rule(atom: _Atom) -> bool:
            centre = (atom.bbox[0] + atom.bbox[2]) / 2
            return x0 - 1 <= centre <= x1 + 1 and abs(atom.y_mid - rule_y) < 1.5 * atom.size

        stacked = [atom for atom in atoms if over_rule(atom)]
        numerator = [atom for atom in stacked if atom.y_mid < rule_y]
        denominator = [atom for atom in stacked if atom.y_mid > rule_y]
        if not numerator or not denominator:
            continue
        size = max(atom.size for atom in stacked)
        latex = rf"\frac{{{_row_latex(_by_x(numerator))}}}{{{_row_latex(_by_x(denominator))}}}"
        remaining = [atom for atom in atoms if not over_rule(atom)]
        atoms = remaining + [_Atom(latex, size, (x0, rule_y - size / 2, x1, rule_y + size / 2))]
    return atoms


def _fold_limits(atoms: list[_Atom], spans: list[Span]) -> list[_Atom]:
    """Attach small atoms stacked over or under a big operator (∑, ∫, ∏) as its limits."""
    result = list(atoms)
    for operator in [atom for atom in atoms if atom.latex in {_LATEX_COMMANDS[char] for char in _BIG_OPERATORS}]:
        height = operator.bbox[3] - operator.bbox[1]
        near = [
            atom
            for atom in result
            if atom is not operator
            and atom.size < operator.size * _SCRIPT_SIZE_RATIO
            and operator.bbox[0] - 2 <= atom.bbox[0] <= operator.bbox[2] + 0.6 * operator.size
        ]
        upper = [atom for atom in near if atom.bbox[3] <= operator.bbox[1] + 0.3 * height]
        lower = [atom for atom in near if atom.bbox[1] >= operator.bbox[3] - 0.3 * height]
        if not upper and not lower:
            continue
        latex = operator.latex
        if lower:
            latex += f"_{{{_row_latex(_by_x(lower))}}}"
        if upper:
            latex += f"^{{{_row_latex(_by_x(upper))}}}"
        used = {id(atom) for atom in upper + lower + [operator]}
        result = [atom for atom in result if id(atom) not in used]
        result.append(_Atom(latex, operator.size, operator.bbox))
    return result


def _by_x(atoms: list[_Atom]) -> list[_Atom]:
    return sorted(atoms, key=lambda atom: atom.bbox[0])


def _row_latex(atoms: list[_Atom], *, check_baseline: bool = False) -> str:
    """Write atoms on one baseline, turning runs of smaller atoms into sub- and superscripts."""
    if not atoms:
        return ""
    base_size = _text_size(atoms)
    bases = [atom for atom in atoms if atom.size >= base_size * _SCRIPT_SIZE_RATIO]
    if check_baseline and max(a.y_mid for a in bases) - min(a.y_mid for a in bases) > 0.6 * base_size:
        raise FormulaLayoutError("full-size glyphs lie on more than one baseline")

    parts: list[str] = []
    index = 0
    while index < len(atoms):
        atom = atoms[index]
        index += 1
        if atom.size >= base_size * _SCRIPT_SIZE_RATIO:
            parts.append(atom.latex)
            continue
        # A script run: every following smaller atom up to the next full-size one.
        run = [atom]
        while index < len(atoms) and atoms[index].size < base_size * _SCRIPT_SIZE_RATIO:
            run.append(atoms[index])
            index += 1
        parts.append(_scripts_latex(run, _base_before(atoms, atom, base_size)))
    return join_latex(parts)


def _text_size(atoms: list[_Atom]) -> float:
    """Return the font size that most of the row's characters use; big operators are set larger."""
    weights: dict[float, int] = {}
    for atom in atoms:
        weights[round(atom.size, 1)] = weights.get(round(atom.size, 1), 0) + atom.chars
    return max(weights, key=lambda size: (weights[size], size))


def _base_before(atoms: list[_Atom], script: _Atom, base_size: float) -> float:
    """Return the vertical centre of the full-size atom before a script, or of the row."""
    before = [atom for atom in atoms if atom.bbox[0] < script.bbox[0] and atom.size >= base_size * _SCRIPT_SIZE_RATIO]
    if before:
        return before[-1].y_mid
    return _mean([atom.y_mid for atom in atoms if atom.size >= base_size * _SCRIPT_SIZE_RATIO])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _scripts_latex(run: list[_Atom], base_y: float) -> str:
    """Split a run of script atoms into the subscript and the superscript of the base before it."""
    leader_size = max(atom.size for atom in run)
    groups: dict[str, list[_Atom]] = {"_": [], "^": []}
    side = "^"
    for atom in run:
        if atom.size >= leader_size * _SCRIPT_SIZE_RATIO:
            side = "^" if atom.y_mid < base_y else "_"
        groups[side].append(atom)
    text = ""
    for marker in ("_", "^"):
        if groups[marker]:
            inner = _row_latex(groups[marker])
            if inner == r"\prime" and marker == "^":
                text += r"^{\prime}"
            else:
                text += f"{marker}{{{inner}}}"
    return text
