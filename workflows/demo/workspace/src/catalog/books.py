from dataclasses import dataclass


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    price_cents: int


def search(books: list[Book], text: str) -> list[Book]:
    needle = text.casefold()
    return [b for b in books if needle in b.title.casefold() or needle in b.author.casefold()]
