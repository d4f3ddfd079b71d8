from chain.compression import compress, extractive_answer, sentences
from index.protocol import Parent
from index.retrieval import Passage


def passage(text, rank=0, source="a.md"):
    return Passage(Parent(f"p{rank}", source, "T", text), 1.0 - rank / 10, rank, 0.5, 1.0, rank, rank)


def test_spreadsheet_records_stay_one_per_line():
    text = "\n".join(f"Name: Person {i:02d} | Phone: ext-{1000 + i}" for i in range(1, 21))
    assert len(sentences(text)) == 20
    ans = extractive_answer("phone extension of Person 11", [passage(text)])
    assert ans.text.startswith("Name: Person 11 | Phone: ext-1011")


def test_hard_wrapped_prose_is_joined():
    assert sentences("Book two weeks ahead for leave\nlonger than five days.") == [
        "Book two weeks ahead for leave longer than five days."
    ]


def test_extractive_answer_cites_each_passage_used():
    ps = [passage("The canteen opens at 8. It closes at 3.", 0), passage("Parking is in lot B. Bikes go in lot C.", 1)]
    ans = extractive_answer("when does the canteen open and where is parking", ps)
    assert "[1]" in ans.text and "[2]" in ans.text and ans.used == [0, 1]


def test_compress_keeps_relevant_sentences_within_budget():
    filler = " ".join(f"Filler sentence number {i} talks about nothing." for i in range(200))
    text = f"{filler} The VPN certificate expires after 90 days. {filler}"
    [kept] = compress("when does the vpn certificate expire", [passage(text)], token_budget=50)
    assert "expires after 90 days" in kept
    assert len(kept) <= 50 * 4 + 60
