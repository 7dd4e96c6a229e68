"""English: courtesy and emphasis, plain requests without a keyword, the joined keywords, and the
sentences that must not opt anyone out (issue 9)."""

import pytest

from app.domain.keywords import Rule
from tests.unit.app.domain.test_keywords_packs import (
    HELP,
    IN,
    NONE,
    NOT_OUT,
    OUT,
    REVIEW,
    check,
    classifier_for,
    ids,
    pack_cases,
)

ISSUE_COURTESY = ("please", "pls", "thanks", "thank you", "now", "it", "asap", "!!!", "🙏", "por favor", "gracias",
                  "obrigado", "bitte", "merci", "grazie")

CASES = pack_cases("en") + [
    # polite and emphatic forms are decided at once (issue 9: these were review)
    ("STOP PLEASE", OUT), ("please stop", OUT), ("Stop it!", OUT), ("opt out please", OUT),
    ("unsubscribe thanks", OUT), ("Stop. Thank you", OUT), ("quit texting me", OUT), ("STOP NOW", OUT),
    ("stop asap", OUT), ("STOP!!!", OUT), ("Stop 🙏", OUT), ("stop stop stop", OUT), ("STOP! STOP!", OUT),
    ("Please, please stop", OUT), ("pleeease stop", OUT), ("stop it now please", OUT), ("cancel pls thx", OUT),
    ("End it.", OUT), ("Unsubscribe, thank you!", OUT), ("just stop", OUT), ("stop already", OUT),
    ("stop for good", OUT), ("Thanks, STOP", OUT), ("stop por favor", OUT), ("Stop bitte", OUT),
    ("start please", IN), ("yes please", IN), ("help please", HELP), ("INFO pls", HELP),
    # emphasis by stretching
    ("stopppp", OUT), ("Please stopppp", OUT), ("STOOOOP", OUT), ("unsubscribeeee", OUT), ("endddd", OUT),
    ("QUIIIIT!", OUT),
    # joined opt-out words of political texting
    ("stop2quit", OUT), ("STOP2QUIT", OUT), ("stoptoquit", OUT), ("Stop to quit", OUT), ("stop 2 quit", OUT),
    ("stop2end", OUT), ("stop to end", OUT),
    # plain requests without a keyword
    ("I don't want these messages anymore", OUT), ("lose my number", OUT), ("delete my number", OUT),
    ("don't contact me", OUT), ("do not EVER contact me again", OUT), ("don't text back", OUT),
    ("do not message me please", OUT), ("Please remove my number", OUT), ("take me off your list", OUT),
    ("Take me off the list!", OUT), ("take me off this list please", OUT), ("remove me from your list", OUT),
    ("I no longer want your texts", OUT), ("don't ever text me again", OUT), ("never contact me again", OUT),
    ("No more texts please", OUT), ("No, don't text me", OUT), ("Do not call or text this number again", OUT),
    ("Who is this? Don't text me", OUT), ("leave me alone", OUT), ("I opt out", OUT),
    # keywords inside real sentences: a person decides
    ("we have got to stop this bill", REVIEW), ("Stop by at 5", REVIEW), ("I want to cancel my order", REVIEW),
    ("don't stop the updates", REVIEW), ("Remove me from the waitlist for now", REVIEW),
    ("please don't remove me", REVIEW), ("don't text me after 9pm", REVIEW), ("don't call me now, I'm driving", REVIEW),
    ("Don't call me, text me instead", REVIEW), ("never stop texting me", REVIEW), ("stop texting me at work", REVIEW),
    # must not opt out (none or review)
    ("Remove me from the waitlist", NOT_OUT), ("take me off the waitlist", NOT_OUT), ("take me out to dinner", NONE),
    ("remove my number from the waitlist", NOT_OUT), ("did you delete my number?", NOT_OUT),
    ("I don't want to miss your texts", NONE), ("I don't want the messages to stop", NOT_OUT),
    ("no more than 5 minutes", NONE), ("why don't you text me", NONE), ("don't send me the receipt yet", NONE),
    ("can you stop by tomorrow?", NOT_OUT), ("I quit smoking", NOT_OUT), ("the weekend is here", NONE),
    ("Thanks!", NONE), ("thank you", NONE), ("please", NONE), ("ok", NONE), ("sounds good", NONE),
    ("Fine, see you then", NONE), ("fine", NONE), ("who is this?", NONE), ("wrong number", NONE),
    ("call me", NONE), ("no thanks", NONE), ("not now", NONE), ("stopping by later", NONE), ("yess", NONE),
    ("step", NONE), ("shop", NONE), ("stomp", NONE), ("stoop", NONE), ("I live in Palo Alto", NONE),
    ("text me when you're here", NONE), ("please call me back", NONE), ("Don't worry about it", NONE),
    # issue 23: plain requests that waited for a person
    ("I want to opt out", OUT), ("I want to unsubscribe", OUT), ("I would like to unsubscribe", OUT),
    ("I'd like to be removed from your list", OUT), ("Please take my number off your list", OUT),
    ("Stop the texts", OUT), ("Please stop all messages", OUT), ("Wrong number please remove", OUT),
    ("not interested. stop", OUT), ("Cancel my subscription to these texts", OUT), ("I want off this list", OUT),
    ("unsubscribe me from your texts", OUT), ("I want to stop receiving these texts", OUT),
    # ... and their look-alikes: another list or thing, a time, a negation, a question
    ("I want to opt out of the survey", REVIEW), ("I'd like to unsubscribe from emails", REVIEW),
    ("I don't want to unsubscribe", REVIEW), ("I want to unsubscribe after this week", REVIEW),
    ("take my number off the waitlist", NOT_OUT), ("cancel my subscription to the magazine", NOT_OUT),
    ("stop the notifications for my order", NOT_OUT), ("how do i stop the notifications", NOT_OUT),
    ("stop the texts after 9pm", REVIEW), ("wrong number, stop by tomorrow", NOT_OUT), ("I want off the waitlist", NONE),
]


def test_the_english_suite_is_big_enough():
    assert len(CASES) >= 300, len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=ids(CASES))
@pytest.mark.parametrize("locale", [None, "en"])
def test_english(locale, body, expected):
    check(locale, body, expected)


@pytest.mark.parametrize("courtesy", ISSUE_COURTESY)
def test_every_courtesy_word_of_the_issue_around_stop(courtesy):
    for body in (f"STOP {courtesy}", f"{courtesy} stop", f"{courtesy.upper()} STOP {courtesy}"):
        found = classifier_for(None).classify(body)
        assert found.intent is OUT and found.rule is Rule.KEYWORD, (body, found)


def test_what_matched_is_reported():
    classify = classifier_for(None).classify
    assert (classify("STOP PLEASE").matched, classify("STOP PLEASE").rule) == ("stop", Rule.KEYWORD)
    assert classify("stopppp").matched == "stop"
    assert classify("Please do not contact me again").matched == "do not contact me"
    assert classify("lose my number").matched == "lose my number"
    assert classify("take me off your list").matched == "take me off your list"
    assert classify("Remove me from the waitlist for now").matched == "remove"
