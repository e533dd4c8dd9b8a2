"""OKX spot: public feed (books, bbo-tbt and trades), and later trading over the private WS."""
