"""Rebuild LaTeX from the glyph geometry of a formula: scripts, fractions, limits, symbols.

A formula arrives as spans with their boxes and font sizes, plus the horizontal rules
drawn near it. Scripts are smaller spans raised or lowered against the span before them,
a fraction is text above and below a rule, and a big operator takes the small spans
stacked over and under it as limits.
"""

from __future__ import annotations

import re
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
# TeX's extension font (cmex10) without a Unicode map: pymupdf returns the glyph codes as
# characters. The codes below are the cmex10 positions of delimiters, big operators and
# radical signs. Codes that a Unicode map could also produce, such as "(" and "[", are
# left out, so a cmex font that has a map is read correctly too.
_CMEX_CHARACTERS = {
    **{chr(code): delimiter for code, delimiter in zip(range(0x00, 0x10), "()[]⌊⌋⌈⌉{}⟨⟩|‖/\\")},
    **{chr(code): delimiter for code, delimiter in zip(range(0x10, 0x20), "()()[]⌊⌋⌈⌉{}⟨⟩/\\")},
    '"': "[", "#": "]", "$": "⌊", "%": "⌋", "&": "⌈", "'": "⌉", "*": "⟨", "+": "⟩",
    "P": "∑", "X": "∑", "Q": "∏", "Y": "∏", "R": "∫", "Z": "∫", "H": "∮", "I": "∮",
    "h": "[", "i": "]", "n": "{", "o": "}", "p": "√", "q": "√", "r": "√", "s": "√", "t": "√",
}
# A drawn rule's box in points: x0, y0, x1, y1.
Rule = tuple[float, float, float, float]
_CMEX_FONT_RE = re.compile(r"cmex", re.IGNORECASE)
_BIG_OPERATOR_COMMANDS = tuple(_LATEX_COMMANDS[char] for char in _BIG_OPERATORS)
# A radicand's atoms start at most this many ems of the sign's size below the overline,
# which leaves room for a fraction's denominator under the radical.
_RADICAND_DEPTH_EM = 2.5
# Glyphs of one limit are at most this many ems apart.
_LIMIT_GAP_EM = 0.3
# A size needs this share of the most used size's characters to be the row's text size.
_BASE_SIZE_SHARE = 0.25
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
    # A glyph of TeX's extension font (big delimiter, operator or radical). Its box in the
    # PDF covers only part of the drawn glyph, so it does not show where the baseline is.
    stretchy: bool = False

    @property
    def y_mid(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2


def char_latex(char: str, span: Span) -> str:
    """Return the LaTeX for one character of a formula span, keeping the span's bold face."""
    if char in _CMEX_CHARACTERS and _CMEX_FONT_RE.search(span.font):
        char = _CMEX_CHARACTERS[char]
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


def formula_latex(spans: list[Span], rules: list[Rule]) -> str:
    """Rebuild one formula from its spans and the horizontal rules drawn among them.

    Raises FormulaLayoutError when the full-size glyphs left after fractions and limits do
    not share one baseline (stacked lines, matrices), so the caller keeps the text instead.
    """
    atoms = [atom for span in spans if span.text.strip() for atom in _span_atoms(span)]
    atoms, rules = _fold_radicals(atoms, rules)
    atoms = _fold_fractions(atoms, rules)
    atoms = _fold_limits(atoms, spans)
    return _row_latex(sorted(atoms, key=lambda atom: atom.bbox[0]), check_baseline=True)


def _span_atoms(span: Span) -> list[_Atom]:
    """Make the atoms of one span: the whole span, or its pieces around each radical sign.

    A radical sign needs an atom of its own to take its radicand. The pieces' boxes
    divide the span's width by character count, an estimate for proportional fonts.
    """
    stretchy = bool(_CMEX_FONT_RE.search(span.font))
    text = span.text.strip()
    if "√" not in text or text == "√":
        return [_Atom(span_latex(span), span.size, span.bbox, len(text), stretchy=stretchy)]
    x0, y0, x1, y1 = span.bbox
    char_width = (x1 - x0) / max(len(span.text), 1)
    atoms = []
    offset = 0
    for piece in re.split("(√)", span.text):
        if piece.strip():
            left = x0 + offset * char_width
            piece_span = Span(piece, span.font, span.size, span.flags, (left, y0, left + len(piece) * char_width, y1))
            atoms.append(_Atom(span_latex(piece_span), span.size, piece_span.bbox, len(piece.strip()), stretchy=stretchy))
        offset += len(piece)
    return atoms


def _fold_radicals(atoms: list[_Atom], rules: list[Rule]) -> tuple[list[_Atom], list[Rule]]:
    """Replace each radical sign, its overline rule and the atoms under the rule by one \\sqrt atom.

    The overline starts at the top right of the sign. Radicals are folded innermost
    (narrowest rule) first, and fraction rules under an overline are folded inside its
    radicand. Returns the atoms and the rules that were not used.
    """
    remaining_rules = sorted(rules, key=lambda rule: rule[2] - rule[0])
    overlines = []
    for sign in [atom for atom in atoms if atom.latex == r"\sqrt"]:
        rule = next((rule for rule in remaining_rules if _is_overline(sign, rule)), None)
        if rule is not None:
            overlines.append((sign, rule))
    for sign, rule in sorted(overlines, key=lambda pair: pair[1][2] - pair[1][0]):
        if rule not in remaining_rules:
            continue
        rule_y = (rule[1] + rule[3]) / 2

        def under_rule(atom: _Atom) -> bool:
            centre = (atom.bbox[0] + atom.bbox[2]) / 2
            below_rule = rule_y < atom.y_mid and atom.bbox[1] < rule_y + _RADICAND_DEPTH_EM * sign.size
            return rule[0] - 1 <= centre <= rule[2] + 1 and below_rule

        radicand = [atom for atom in atoms if atom is not sign and under_rule(atom)]
        if not radicand:
            continue
        inner_rules = [
            other
            for other in remaining_rules
            if other is not rule and rule[0] - 1 <= other[0] and other[2] <= rule[2] + 1 and other[1] > rule_y
        ]
        index = [
            atom
            for atom in atoms
            if atom is not sign
            and atom.size < _SCRIPT_SIZE_RATIO * sign.size
            and sign.bbox[0] - 0.6 * sign.size <= atom.bbox[0]
            and atom.bbox[2] <= (sign.bbox[0] + sign.bbox[2]) / 2 + 1
            and atom.y_mid < sign.y_mid
        ]
        latex = r"\sqrt"
        if index:
            latex += f"[{_row_latex(_by_x(index))}]"
        latex += f"{{{_row_latex(_by_x(_fold_fractions(radicand, inner_rules)))}}}"
        box = (sign.bbox[0], min(atom.bbox[1] for atom in radicand), rule[2], max(atom.bbox[3] for atom in radicand))
        used = {id(atom) for atom in radicand + index + [sign]}
        atoms = [atom for atom in atoms if id(atom) not in used] + [_Atom(latex, max(atom.size for atom in radicand), box)]
        remaining_rules = [other for other in remaining_rules if other is not rule and other not in inner_rules]
    return atoms, remaining_rules


def _is_overline(sign: _Atom, rule: Rule) -> bool:
    """Tell whether a rule starts at the right end of a radical sign and within its height.

    The sign's box comes from its font's ascent and descent, not from the drawn glyph
    (TeX hangs the glyph from the rule), so only the box's whole height is checked.
    """
    rule_y = (rule[1] + rule[3]) / 2
    starts_at_sign = sign.bbox[0] + 0.3 * (sign.bbox[2] - sign.bbox[0]) <= rule[0] <= sign.bbox[2] + 0.3 * sign.size
    return starts_at_sign and sign.bbox[1] - 0.5 * sign.size <= rule_y <= sign.bbox[3]


def _fold_fractions(atoms: list[_Atom], rules: list[Rule]) -> list[_Atom]:
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
    """Attach small atoms stacked over or under a big operator (∑, ∫, ∏) as its limits.

    A limit starts with the atoms that begin over the operator's width and grows left and
    right over touching atoms, because a limit wider than the operator ("s, Rs = I")
    is centred on it.
    """
    result = list(atoms)
    for operator in [atom for atom in atoms if atom.latex in _BIG_OPERATOR_COMMANDS]:
        height = operator.bbox[3] - operator.bbox[1]
        small = [
            atom
            for atom in result
            if atom is not operator and not atom.stretchy and atom.size < operator.size * _SCRIPT_SIZE_RATIO
        ]
        upper = _limit_row(operator, [atom for atom in small if atom.bbox[3] <= operator.bbox[1] + 0.3 * height])
        lower = _limit_row(operator, [atom for atom in small if atom.bbox[1] >= operator.bbox[3] - 0.3 * height])
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


def _limit_row(operator: _Atom, candidates: list[_Atom]) -> list[_Atom]:
    """Return the candidates (all above or all below the operator) that form its limit."""
    row = [atom for atom in candidates if operator.bbox[0] - 2 <= atom.bbox[0] <= operator.bbox[2] + 0.6 * operator.size]
    if not row:
        return []
    left = min(atom.bbox[0] for atom in row)
    right = max(atom.bbox[2] for atom in row)
    others = [atom for atom in candidates if all(atom is not member for member in row)]
    for atom in sorted(others, key=lambda atom: -atom.bbox[2]):
        if atom.bbox[2] <= left and left - atom.bbox[2] <= _LIMIT_GAP_EM * atom.size:
            row.append(atom)
            left = atom.bbox[0]
    for atom in sorted(others, key=lambda atom: atom.bbox[0]):
        if atom.bbox[0] >= right and atom.bbox[0] - right <= _LIMIT_GAP_EM * atom.size:
            row.append(atom)
            right = atom.bbox[2]
    return row


def _by_x(atoms: list[_Atom]) -> list[_Atom]:
    return sorted(atoms, key=lambda atom: atom.bbox[0])


def _row_latex(atoms: list[_Atom], *, check_baseline: bool = False) -> str:
    """Write atoms on one baseline, turning runs of smaller atoms into sub- and superscripts."""
    if not atoms:
        return ""
    base_size = _text_size(atoms)
    bases = [atom for atom in atoms if atom.size >= base_size * _SCRIPT_SIZE_RATIO and not atom.stretchy]
    if check_baseline and bases and max(a.y_mid for a in bases) - min(a.y_mid for a in bases) > 0.6 * base_size:
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
    """Return the font size of the row's full-size glyphs.

    That is the largest size carrying at least a quarter of the characters of the most
    used size, leaving out big operators and delimiters, which are set larger. In a
    formula with many scripts the script size can be the most used one.
    """
    weights: dict[float, int] = {}
    for atom in atoms:
        if atom.stretchy or atom.latex.startswith(_BIG_OPERATOR_COMMANDS):
            continue
        weights[round(atom.size, 1)] = weights.get(round(atom.size, 1), 0) + atom.chars
    if not weights:
        return max(atom.size for atom in atoms)
    max_weight = max(weights.values())
    return max(size for size, weight in weights.items() if weight >= _BASE_SIZE_SHARE * max_weight)


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
