"""English: the base pack, applied to every reply."""

from app.domain.locales import Pack, Pattern

FCC_OPT_OUT = ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe")

# what a list is called ("take me off your sms list", "remove me from all your texts")
_LIST = (
    r"(?:(?:your|the|this|these|that|ur|our|all|all of your|all your|every|any|yalls?) )?"
    r"(?:(?:sms|text|texting|txt|mailing|marketing|messaging|message|contact|call|calling|subscriber|"
    r"subscription|distribution|email|promo|promotional|notification|alert|broadcast|mass|phone) )?"
    r"(?:list|lists|texts?|messages?|msgs?|database|db|system|contacts?|numbers?|subscriptions?|alerts?|"
    r"notifications?|program|service|everything|here)\b"
)
_NEG = r"(?:dont|do not|never)(?: to)?(?: (?:ever|you ever|u ever|again))?"
_CONTACT = r"(?:text|txt|texting|message|msg|messaging|contact|contacting|call|calling|sms|email|bother|write)"
_MESSAGES = (r"(?:messages?|texts?|txts?|msgs?|sms|texting|notifications?|alerts?|promotions?|promos?|offers|ads|"
             r"spam)")
# after "stop texting me": a time, a place or another channel makes it a partial request (a person decides)
_WHEN = (r" (?:after|before|until|till|til|at(?! all\b)|on|during|between|in|tomorrow|today|tonight|this|late|"
         r"early|yet|instead|unless|if|when|while)\b| (?:text|call|email|message|write) me\b")
_NOT_NOW = _WHEN + r"| (?:right )?now\b"  # "don't text me now": not now (but "stop texting me now" is emphasis)
# "... from the waitlist", "... of the survey": another list or thing than the texts, a person decides
_NOT_ANOTHER_LIST = rf"(?! (?:from|of|off|to|for) (?!{_LIST}))"
# the keywords a person may put after a reason ("wrong number, remove")
_KEYWORD = r"(?:stop|stop all|stopall|remove|remove me|unsubscribe|unsub|quit|opt out|optout|cancel|end|revoke)"

PATTERNS = (
    Pattern(
        "en", "negated contact verb",
        ("dont", "do", "never"),
        rf"\b(?<!why ){_NEG} {_CONTACT}(?: (?:or|and|nor|n) {_CONTACT})? (?:me|us|this number|my number|my phone|"
        r"my cell|back)\b",
        matches=("don't contact me", "do not EVER contact me again", "don't text back", "do not message me please",
                 "Never text this number again", "Please do not call or text me", "don't u ever text me"),
        never=("why don't you text me", "don't text me after 9pm", "Don't call me, text me instead",
               "I don't contact people", "don't call me now, I'm driving"),
        qualifiers=_NOT_NOW,
    ),
    Pattern(
        "en", "negated send",
        ("dont", "do", "never"),
        rf"\b{_NEG} send me(?:$| (?:any ?more|again|ever)\b| (?:(?:any ?more|more|these|those|your|ur|this|any|no) )?"
        r"(?:messages?|texts?|msgs?|sms|anything|stuff|ads|offers|promos?|promotions?|spam|junk|crap)\b)"
        rf"|\b{_NEG} send (?:(?:any ?more|more|these|those|your|ur|any|no|anything|of these) )*{_MESSAGES}\b"
        r"(?! to (?!(?:me|us|this number|my number|this phone|my phone|here)\b))",
        matches=("don't send me anything", "do not send me these messages", "never send me texts again",
                 "dont send me", "do not send texts to this number", "don't send any more messages"),
        never=("don't send me the receipt yet", "do not send me the wrong size again",
               "don't send the texts to my old number", "don't send texts to my husband"),
    ),
    Pattern(
        "en", "stop/quit + contacting",
        ("stop", "quit", "cease", "end"),
        r"\b(?:stop|quit|cease|end)(?: all)? (?:texting|txting|messaging|msging|contacting|calling|bothering|"
        r"spamming|sending|emailing|harassing)\b(?: (?:me|us|this number|my number|my phone))?"
        r"(?! (?:him|her|them|that|people|everyone|everybody|my (?:mom|dad|wife|husband|son|daughter|kids))\b)",
        matches=("quit texting me", "stop messaging this number", "Stop spamming me!", "cease contacting me"),
        never=("can you stop by tomorrow?", "I quit smoking", "quit your job", "stop by the office",
               "stop calling them names", "stop messaging my wife"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "en", "don't want the messages",
        ("dont", "do", "no", "never"),
        r"\b(?:i )?(?:dont|do not|no longer|never)(?: ever)? (?:want|wish|need)(?: to (?:receive|get|have|see))?"
        rf"(?: (?:any ?more|these|those|your|ur|this|the|more|such|any))* {_MESSAGES}\b"
        r"(?! (?:to (?:stop|end|be|change)|from my))",
        matches=("I don't want these messages anymore", "I no longer wish to receive texts",
                 "i dont want any more messages", "I do not want your texts", "don't need the alerts"),
        never=("I don't want to miss your texts", "I don't want the messages to stop"),
    ),
    Pattern(
        "en", "no more messages",
        ("no",),
        rf"^no more$|\bno more {_MESSAGES}\b",
        matches=("no more texts", "No more!", "no more messages please"),
        never=("no more than 5 minutes", "no more coffee for me"),
    ),
    Pattern(
        "en", "lose/delete/remove my number",
        ("lose", "loose", "delete", "remove", "erase"),
        r"(?<!did you )(?<!have you )\b(?:lose|loose|delete|remove|erase) my (?:phone |cell |mobile |cell phone )?"
        rf"(?:number|no|num|name|info|information|contact|details|data)\b(?! (?:from|off|of) (?!{_LIST}))",
        matches=("lose my number", "delete my number", "Please remove my number from your list",
                 "remove my name", "erase my info"),
        never=("remove my number from the waitlist", "did you delete my number?", "I lost my number"),
    ),
    Pattern(
        "en", "take my number off (the list)",
        ("take", "get"),
        r"\b(?:take|get) my (?:phone |cell |mobile |cell phone )?(?:number|no|num|name|info|information|contact|"
        r"details) (?:off|out)(?: of| from)?(?: " + _LIST + r"|$)",
        matches=("Please take my number off your list", "take my name off this list", "get my number off"),
        never=("take my number off the waitlist", "take my name out of the raffle"),
    ),
    Pattern(
        "en", "I want to opt out / to be removed",
        ("want", "wanna", "like", "wish", "need", "unsubscribe", "unsub", "opt"),
        r"\b(?:(?:i |we )?(?:want|wanna|would like|wish|need)|id like|wed like)(?: to)? (?:opt out|optout|unsubscribe|"
        r"unsub|be unsubscribed|be removed|be taken off|be deleted|get off|stop (?:receiving|getting)(?: (?:these|"
        rf"those|your|ur|the|any|all|any more|more))* {_MESSAGES})\b" + _NOT_ANOTHER_LIST
        + r"|\b(?:i |we )?(?:want|wanna) (?:off|out)(?: of| from)?(?: " + _LIST + r"|$)"
        + r"|^(?:opt (?:me )?out|unsubscribe(?: me)?|unsub(?: me)?) (?:from|of) (?:(?:all|these|those|your|ur|this|"
        + rf"any|the|all of your|all your) )*(?:{_MESSAGES}|{_LIST})$",
        matches=("I want to opt out", "I would like to unsubscribe", "I'd like to be removed from your list",
                 "i wanna unsubscribe", "I want to stop receiving these texts", "we would like to opt out",
                 "I want off your list", "unsubscribe me from your texts"),
        never=("I want to opt out of the survey", "I'd like to unsubscribe from emails", "I don't want to unsubscribe",
               "I want to unsubscribe after this week", "I'd like to be removed from the waitlist",
               "I want off the waitlist", "unsubscribe from the newsletter emails"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "en", "cancel my subscription (to these texts)",
        ("subscription", "subscriptions"),
        r"\b(?:cancel|end|stop|terminate) (?:my|the|this|these|all|all my|all of my|your) (?:text |sms |message |"
        rf"messaging |texting )?subscriptions?\b(?! (?:to|for|from|of|with|on) (?!(?:{_LIST}|{_MESSAGES}|you|u)\b))",
        matches=("Cancel my subscription to these texts", "cancel my subscription",
                 "please cancel my text subscription", "end my subscription to your messages"),
        never=("cancel my subscription to the magazine", "don't cancel my subscription", "I want to cancel my order"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "en", "stop the messages",
        ("stop", "quit", "cease", "halt"),
        r"(?<!how to )(?<!how do i )(?<!how can i )(?<!how do you )\b(?:stop|quit|cease|halt)(?: (?:all|the|these|"
        rf"those|your|ur|this|any|all of the|all of your|all your|all these|all those))+ {_MESSAGES}\b"
        r"(?! (?:about|for|regarding|on|from|of|to|in)\b(?! (?:you|u|ur|your company|this number|me)\b))",
        matches=("Stop the texts", "Please stop all messages", "stop these messages", "cease all texts",
                 "stop all the texts from you"),
        never=("stop the notifications for my order", "how do i stop the notifications", "don't stop the texts",
               "stop the texts after 9pm"),
        qualifiers=_WHEN,
    ),
    Pattern(
        "en", "a reason, then a keyword",
        ("wrong", "interested", "signed", "sign", "subscribed", "subscribe", "opted", "opt", "who", "whos", "done",
         "enough"),
        r"^(?:(?:this is |you have |u have |youve got |you got )?(?:the |a )?wrong (?:number|person|#|no)"
        r"|(?:i am |im )?not interested(?: anymore| any more| at all)?"
        r"|i (?:never|didnt|did not|have never|never ever) (?:signed up|sign up|subscribed|subscribe|opted in|opt in)"
        r"(?: for (?:this|these|it|that|anything|any of this))?"
        rf"|who is this|whos this|(?:i am |im )done|enough(?: (?:already|{_MESSAGES}))?) {_KEYWORD}$",
        matches=("Wrong number please remove", "not interested, stop", "I never signed up for this. Unsubscribe",
                 "who is this? stop", "I didn't sign up for this, stop", "I'm done, unsubscribe", "enough texts, stop",
                 "I'm not interested anymore, please stop"),
        never=("wrong number", "not interested", "who is this?", "wrong number, stop by tomorrow"),
    ),
    Pattern(
        "en", "remove me / take me off (the list)",
        ("remove", "delete", "erase", "take", "get"),
        r"\b(?:(?:remove|delete|erase) me(?=$| (?!(?:from|off|of)\b)| (?:from|off|of) " + _LIST + r")"
        r"|(?:take|get) me (?:off|out)(?: of| from)?(?: " + _LIST + r"|$))",
        matches=("Remove me", "remove me from this list", "take me off your list", "Take me off the list pls",
                 "take me off", "get me off this list", "remove me asap i never signed up"),
        never=("Remove me from the waitlist for now", "take me off the waitlist", "take me out to dinner",
               "please don't remove me"),
    ),
)

PACK = Pack(
    code="en",
    language="English",
    # FCC 24-24's seven, CTIA's five, Twilio/ActiveCampaign/Braze/Telnyx/Plivo/AWS lists (AWS's ARRET is in the
    # French pack, which applies everywhere); Spoke's stop2quit and "stop to quit" written as one word
    opt_out=FCC_OPT_OUT + ("stopall", "stop all", "optout", "opt-out", "remove", "unsub", "halt",
                           "stop2quit", "stoptoquit", "stop2end", "stoptoend"),
    opt_in=("start", "yes", "unstop"),
    help=("help", "info"),
    phrases=("stop texting me", "stop texting", "stop messaging me", "stop sending", "unsubscribe me",
             "do not text", "dont text me", "opt me out", "no more texts", "no more messages", "leave me alone",
             "i opt out"),
    patterns=PATTERNS,
    review=FCC_OPT_OUT + ("stopall", "stop all", "optout", "opt-out", "remove", "unsub"),
    review_alone=("td",),
    courtesy=("please", "pls", "plz", "plez", "plse", "pleas", "kindly", "thanks", "thank you", "thankyou",
              "thank u", "thanx", "thx", "thnx", "tnx", "ty", "tysm", "thanks a lot", "many thanks", "now",
              "right now", "it", "asap", "immediately", "already", "just", "for good", "forever"),
    negations=("dont", "not", "never", "didnt", "doesnt", "wont", "cant", "shouldnt", "no"),
    opt_out_confirmation="You are unsubscribed and will receive no more messages from us. Reply START to resubscribe.",
    opt_in_confirmation="You are resubscribed and will receive messages again. Reply STOP to unsubscribe.",
    help_text="Reply STOP to unsubscribe or START to resubscribe. Msg & data rates may apply.",
    excluded=(
        ("TD as an opt-out", "AWS's list has it, but it is a bank's name and an abbreviation people send as a whole "
         "reply: alone it goes to a person (review), in a sentence it is nothing; opt_out = [\"td\"] in the "
         "configuration makes it an opt-out"),
        ("NO", "Sinch and Kalkun treat it as an opt-out; it answers ordinary questions (\"Are you coming? No\")"),
        ("JOIN, GO, RESUME, BEGIN", "opt-ins of Vonage/Plivo/Bird; ordinary replies to ordinary questions"),
    ),
    sources=(
        "FCC 24-24 (stop, quit, end, revoke, opt out, cancel, unsubscribe)",
        "CTIA Messaging Principles; Twilio, ActiveCampaign, Braze, Telnyx, Plivo default lists",
        "AWS End User Messaging required list (REMOVE, OPT-OUT, OPTOUT, ARRET)",
        "Spoke's default auto-opt-out pattern (lose/delete my number, don't contact me, take me off the list, "
        "stop2quit, I opt out)",
        "Braze fuzzy opt-out (leave me alone, stretched words)",
        "AWS End User Messaging required list (TD: reviewed alone, see excluded)",
        "issue 23: plain requests that waited for a person (\"I want to opt out\", \"please take my number off your "
        "list\", \"stop the texts\", \"wrong number, remove\", \"cancel my subscription to these texts\")",
    ),
)
