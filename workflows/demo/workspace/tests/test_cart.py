from src.cart.cart import add_book, cart_total, remove_book
from src.catalog.books import Book

DUNE = Book("Dune", "Frank Herbert", 1299)


def test_add_book():
    assert add_book([], DUNE) == [DUNE]


def test_remove_book():
    assert remove_book([DUNE, DUNE], DUNE) == [DUNE]


def test_cart_total():
    assert cart_total([DUNE, DUNE]) == 2598
