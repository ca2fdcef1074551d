"""Help texts in the language of the messages, wrapped by display width.

click wraps help at spaces and counts characters; Japanese has no spaces and takes two columns a
character, so its help would run past the terminal's edge in one unbroken line. The formatter here
breaks between any two wide characters (never before 、。）」 or after （「: 禁則) and measures East
Asian Width; English text wraps at spaces as before."""

from __future__ import annotations

import inspect

import click

from ikou.i18n import language, translate
from ikou.textwidth import wrap_display


class WideFormatter(click.HelpFormatter):
    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        for paragraph in _paragraphs(text):
            for line in wrap_display(paragraph, max(self.width - self.current_indent, 11)):
                self.write(f"{indent}{line}\n")
            self.write("\n")
        self.buffer[-1] = self.buffer[-1][:-1] if self.buffer and self.buffer[-1] == "\n" else self.buffer[-1]

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        from ikou.textwidth import display_width

        rows = list(rows)
        first_col = min(max((display_width(r[0]) for r in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if display_width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - display_width(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = [line for p in _paragraphs(second) for line in wrap_display(p, max(self.width - first_col - 2, 10))]
            self.write(f"{lines[0] if lines else ''}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class WideContext(click.Context):
    formatter_class = WideFormatter


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n") if p.strip()]


def localise_help(command: click.Command) -> None:
    """Every help text of a click command tree in the current language, and the wide formatter on
    every command. The English texts are kept on each object, so that a process (a test) may
    switch back and forth."""
    lang, seen = language(), set()

    def walk(cmd: click.Command) -> None:
        if id(cmd) in seen:
            return
        seen.add(id(cmd))
        cmd.context_class = WideContext
        slots = [(cmd, "help"), (cmd, "short_help")] + [(p, "help") for p in cmd.params
                                                        if isinstance(p, click.Option)]
        for obj, attr in slots:
            kept = f"_ikou_en_{attr}"
            if not hasattr(obj, kept):
                setattr(obj, kept, getattr(obj, attr))
            english = getattr(obj, kept)
            # click shows a docstring cleaned of its indentation: the catalogue's key is that text
            setattr(obj, attr, translate(inspect.cleandoc(english), lang) if english and lang == "ja" else english)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)
    walk(command)
