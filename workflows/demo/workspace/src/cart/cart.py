from src.catalog.books import Book


def add_book(cart: list[Book], book: Book) -> list[Book]:
    return [*cart, book]


def remove_book(cart: list[Book], book: Book) -> list[Book]:
    kept = list(cart)
    if book in kept:
        kept.remove(book)
    return kept


def cart_total(cart: list[Book]) -> int:
    """The cart's price in cents."""
    return sum(b.price_cents for b in cart)
