from src.catalog.books import Book, search


def test_search_is_case_insensitive():
    books = [Book("Dune", "Frank Herbert", 1299)]
    assert search(books, "dune") == books
