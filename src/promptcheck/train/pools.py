"""Word pools the synthetic instruction set draws from.

The pools are wide on purpose: a tiny model trained on a few names and topics memorises them, while
one trained on hundreds of combinations has to learn the format itself (copy the email that is in
the message, count the items it has written). The example suites' own values (the tickets, the
contact messages, the paragraphs) are deliberately absent, so the suites measure generalisation.
"""

from __future__ import annotations

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kara",
    "Leo", "Mina", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera",
    "Wes", "Xenia", "Yusuf", "Zoe", "Amir", "Bella", "Chen", "Dana", "Emil", "Fatima", "Gil",
    "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nadia", "Oscar", "Paula", "Raj", "Sara",
    "Theo", "Uma", "Victor", "Wanda", "Yara", "Zane", "Aisha", "Bruno", "Clara", "Diego", "Eva",
    "Felix", "Gina", "Hiro", "Irene", "Jack", "Kim", "Luis", "Maya", "Nils", "Omar", "Petra",
    "Rita", "Sven", "Tomas", "Ursula", "Vik", "Will", "Yuki", "Adam", "Beth", "Cyrus", "Dora",
    "Erik", "Flora", "Gus", "Helen", "Igor", "Jade", "Karl", "Lucy", "Mark", "Nina", "Otto",
    "Pia", "Ruth", "Sam", "Tina", "Ugo", "Vince", "Alma", "Boris", "Cleo", "Dev", "Ella", "Finn",
    "Greta", "Hassan", "Ida", "Jorge", "Kai", "Lara", "Mei", "Nico", "Olu", "Priya", "Rui",
    "Sofia", "Tariq", "Vlad", "Ken", "Maria", "Tom", "Ali", "Ruby", "Ravi", "Lina", "Jan",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Garcia", "Muller", "Rossi", "Kowalski", "Novak", "Silva", "Tanaka", "Kim", "Patel",
    "Khan", "Jensen", "Dubois", "Moreau", "Fischer", "Weber", "Santos", "Costa", "Larsen",
    "Berg", "Hansen", "Ali", "Chen", "Wang", "Li", "Singh", "Sharma", "Okafor", "Mensah",
    "Diaz", "Romero", "Torres", "Ruiz", "Alvarez", "Moreno", "Young", "Hill", "Ward", "Cole",
    "Gray", "Hayes", "Price", "Reed", "Shaw", "Stone", "Wood", "Fox", "Lane", "Marsh", "Nash",
    "Park", "Quinn", "Reyes", "Sato", "Suzuki", "Yamada", "Ozturk", "Demir", "Ivanova",
    "Petrov", "Horvat", "Kovac", "Nagy", "Szabo", "Popescu", "Papas", "Brown", "Green", "Black",
    "White", "Long", "Short", "Baker", "Carter", "Fisher", "Hunter", "Miller", "Turner",
    "Walker", "Wright", "Adams", "Bell", "Brooks", "Cruz", "Ellis", "Ford", "Grant", "Holt",
    "Irwin", "James", "Kent", "Lowe", "Mills", "Neal", "Olsen", "Pope", "Rhodes", "Sims",
    "Tate", "Vance", "Webb", "York", "Zhou", "Iyer", "Rao", "Menon", "Das", "Bose", "Ahmed",
)

#: Full names of the suites' contact messages, never generated (they are the held-out test set).
HELD_OUT_NAMES: frozenset[str] = frozenset({"Maria Lopez", "Tom Becker", "Priya Nair", "Ken Ito"})

ONSETS: tuple[str, ...] = (
    "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh", "br",
    "tr", "", "j", "w",
)
VOWELS: tuple[str, ...] = ("a", "e", "i", "o", "u", "ai", "ee", "ou")

DOMAINS: tuple[str, ...] = (
    "example.com", "example.org", "example.net", "mail.com", "acme.io", "company.co",
    "shop.de", "studio.dev", "post.net", "inbox.org", "firm.co.uk", "labs.ai",
)
TLDS: tuple[str, ...] = ("io", "com", "net", "org", "dev", "co")

CONTACT_BODIES: tuple[str, ...] = (
    "My order has not arrived yet.", "I cannot open the attachment.",
    "The price on my bill is wrong.",
    "I would like to cancel my plan.", "Can you send me the contract?", "The app logs me out.",
    "Where can I find my receipt?", "I need help with the setup.", "My card was declined.",
    "The delivery came damaged.", "Please update my address.", "I forgot my password.",
    "The website is very slow today.", "Can we move our meeting to Friday?",
    "I have a question about the new plan.", "Thanks for the quick fix!",
    "The report has a typo on page two.", "Is the store open on Sunday?",
    "I want to upgrade my account.", "Nothing happens when I press save.",
)

CONTACT_TEMPLATES: tuple[str, ...] = (
    "Hi, this is {name} ({email}). {body}",
    "From {name}, {email}: {body}",
    "{body} {name}, {email}",
    "{name} here, {email}. {body}",
    "Hello, my name is {name} and my email is {email}. {body}",
    "{body} Best regards, {name} <{email}>",
    "Dear team, {body} You can reach me at {email}. Thanks, {name}",
    "{name} ({email}) wrote: {body}",
    "Message from {name} <{email}>. {body}",
    "{body} Please reply to {email}. {name}",
    "Hi! {name} from sales, {email}. {body}",
    "Sender: {name}, {email}. {body}",
)

# Ticket generators: (subject phrases, predicate phrases, priorities) per category.
TICKETS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "billing": (
        ("I was", "We were", "My company was", "Our team was", "My mother was"),
        ("charged twice for my plan.", "billed for a plan I cancelled.",
         "charged the wrong amount.",
         "not refunded after I cancelled.", "sent an invoice with the wrong address.",
         "charged in the wrong currency.", "billed two times in one week."),
        ("P2", "P3"),
    ),
    "bug": (
        ("The search page", "The upload button", "The mobile app", "The settings menu",
         "The checkout form", "The calendar view", "The print dialog", "The chat window"),
        ("freezes when I scroll.", "shows an error when I click it.", "crashes on startup.",
         "does nothing when I tap it.", "loses my changes.", "shows the wrong dates.",
         "is blank after the update."),
        ("P1", "P2"),
    ),
    "account": (
        ("How do I", "Please help me", "I want to", "Can you", "I need to"),
        ("change the name on my account?", "reset my password.", "close my account.",
         "add a second user to my account.", "change my username.", "turn on two factor login.",
         "merge my two accounts."),
        ("P2", "P3"),
    ),
    "outage": (
        ("The entire service", "Our whole platform", "The login server", "The main website",
         "Every store in our chain", "The payment system"),
        ("is down for all users!", "has been offline since this morning.",
         "is not loading for anyone.", "stopped working for every customer.",
         "returns errors for everybody."),
        ("P0",),
    ),
}

OPTION_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "trip": (
        ("a day in Paris", "a weekend in Boston", "a trip to the coast", "a holiday in Spain",
         "a week in Tokyo", "a visit to Chicago", "a night in Berlin", "a road trip"),
        ("Visit a museum", "Take a walking tour", "Try the local food", "Go on a boat ride",
         "Hike a scenic trail", "See a live show", "Rent bikes for a day", "Relax at a park"),
    ),
    "event": (
        ("a company picnic", "a school fair", "a wedding party", "a holiday party",
         "a product launch", "a charity event", "a family reunion", "a book club night"),
        ("Book a garden venue", "Hire a local band", "Plan a quiz night", "Serve a buffet",
         "Set up a photo booth", "Run a raffle", "Hold it at a park", "Rent a small hall"),
    ),
    "meal": (
        ("a quick lunch", "a family dinner", "a picnic basket", "a vegetarian menu",
         "a brunch with friends", "a late snack", "a holiday meal", "a packed lunch"),
        ("Make a fresh salad", "Cook a pasta dish", "Order a pizza", "Grill some vegetables",
         "Prepare soup and bread", "Make tacos", "Bake a quiche", "Serve rice and curry"),
    ),
    "skill": (
        ("learning to paint", "learning Spanish", "getting fit", "learning to code",
         "playing the guitar", "learning to swim", "writing a novel", "public speaking"),
        ("Take an online course", "Join a local class", "Practice every morning",
         "Find a tutor", "Use a mobile app", "Watch video lessons", "Join a club",
         "Set a weekly goal"),
    ),
    "gift": (
        ("a gift for my dad", "a present for a friend", "a gift for a teacher",
         "a gift for a new baby", "a retirement gift", "a gift for a coworker"),
        ("A good book", "A plant for the desk", "Tickets to a concert", "A cooking class",
         "A warm scarf", "A photo album", "A gift card", "A box of chocolates"),
    ),
    "work": (
        ("saving money", "a slow team meeting", "a messy office", "a late project",
         "reducing stress", "a rainy afternoon", "a long commute", "a new website"),
        ("Make a clear plan", "Ask for help early", "Cut extra costs", "Set short deadlines",
         "Take regular breaks", "Use a shared calendar", "Start with small steps",
         "Review progress weekly"),
    ),
}

LIST_CATEGORIES: dict[str, tuple[str, ...]] = {
    "vegetables": ("carrot", "potato", "onion", "pepper", "spinach", "broccoli", "cabbage", "leek"),
    "countries": ("France", "Japan", "Brazil", "Kenya", "Canada", "India", "Norway", "Peru"),
    "cities": ("London", "Madrid", "Cairo", "Seoul", "Lima", "Oslo", "Sydney", "Toronto"),
    "sports": ("tennis", "soccer", "rugby", "golf", "hockey", "cycling", "rowing", "boxing"),
    "tools": ("hammer", "saw", "drill", "wrench", "chisel", "pliers", "ladder", "shovel"),
    "instruments": ("piano", "violin", "drum", "flute", "trumpet", "cello", "harp", "guitar"),
    "birds": ("robin", "eagle", "sparrow", "owl", "parrot", "crow", "swan", "heron"),
    "trees": ("oak", "pine", "maple", "birch", "cedar", "willow", "elm", "palm"),
    "flowers": ("rose", "tulip", "lily", "daisy", "orchid", "sunflower", "violet", "lotus"),
    "metals": ("iron", "copper", "gold", "silver", "zinc", "tin", "lead", "nickel"),
    "drinks": ("tea", "coffee", "juice", "water", "milk", "cocoa", "lemonade", "soda"),
    "jobs": ("teacher", "nurse", "pilot", "baker", "lawyer", "farmer", "chef", "driver"),
    "languages": ("English", "French", "Hindi", "Arabic", "Swahili", "Korean", "Polish", "Greek"),
    "planets": ("Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"),
    "months": ("January", "March", "April", "June", "July", "August", "October", "December"),
    "shapes": ("circle", "square", "triangle", "oval", "star", "hexagon", "cube", "cone"),
    "insects": ("ant", "bee", "beetle", "moth", "wasp", "cricket", "fly", "ladybug"),
    "desserts": ("cake", "pie", "pudding", "cookie", "brownie", "tart", "gelato", "muffin"),
    "sea creatures": ("shark", "whale", "octopus", "crab", "dolphin", "squid", "seal", "eel"),
    "board games": ("chess", "checkers", "Go", "Monopoly", "Scrabble", "Risk", "Clue", "Sorry"),
    "pets": ("dog", "cat", "hamster", "rabbit", "goldfish", "parrot", "turtle", "ferret"),
    "herbs": ("basil", "mint", "parsley", "thyme", "rosemary", "sage", "dill", "oregano"),
    "rivers": ("Nile", "Amazon", "Danube", "Rhine", "Thames", "Ganges", "Volga", "Seine"),
    "clothes": ("shirt", "jacket", "scarf", "hat", "sweater", "coat", "dress", "jeans"),
    "fruits": ("apple", "banana", "cherry", "mango", "pear", "grape", "lemon", "plum"),
    "colors": ("red", "blue", "green", "yellow", "purple", "orange", "black", "white"),
    "animals": ("lion", "tiger", "horse", "zebra", "bear", "wolf", "fox", "rabbit"),
}

#: The suites ask for these three categories; they are also trained, with other k values and mixes.
SUITE_LIST_CATEGORIES: tuple[str, ...] = ("fruits", "colors", "animals")

NUMBER_WORDS: dict[int, str] = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}

# Paragraph frames for summaries and closed questions. The lead sentence is put together from
# independent pieces, so there are millions of them: a model can only summarise by copying it.
SUBJECT_DETS: tuple[str, ...] = ("The", "Our")
SUBJECT_ADJS: tuple[str, ...] = (
    "", "", "city", "local", "new", "old", "regional", "small", "national", "school", "county",
    "village", "main", "public",
)
SUBJECT_NOUNS: tuple[str, ...] = (
    "council", "museum", "bakery", "football club", "hospital", "design team", "library",
    "train company", "zoo", "orchestra", "cafe", "university", "airport", "park service",
    "theater", "market", "clinic", "station", "bookshop", "swimming club", "board", "committee",
)
#: (past tense, base form) pairs, for the lead and for questions about it.
LEAD_VERBS: tuple[tuple[str, str], ...] = (
    ("opened", "open"), ("closed", "close"), ("renovated", "renovate"), ("announced", "announce"),
    ("approved", "approve"), ("cancelled", "cancel"), ("expanded", "expand"),
    ("delayed", "delay"), ("launched", "launch"), ("finished", "finish"), ("started", "start"),
    ("planned", "plan"), ("tested", "test"), ("sold", "sell"), ("rebuilt", "rebuild"),
    ("reviewed", "review"), ("replaced", "replace"), ("moved", "move"), ("painted", "paint"),
)
LEAD_OBJECTS: tuple[str, ...] = (
    "a new branch", "its main hall", "the summer program", "a second location",
    "the weekend market", "its online shop", "the evening classes", "a free bus service",
    "the old bridge", "a larger parking lot", "the reading room", "its website",
    "the spring festival", "a community garden", "the north entrance", "a recycling program",
    "the city pool", "two new playgrounds", "the annual report", "a youth choir",
    "the heating system", "its opening hours", "a night train", "the school lunches",
)
TIMES: tuple[str, ...] = (
    "on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "on Saturday",
    "last week", "this spring", "in March", "in May", "in August", "last year", "in the fall",
    "this morning", "after the holidays", "in June", "yesterday", "two weeks ago", "next month",
)
PURPOSES: tuple[str, ...] = (
    "", "", "", "to save money", "to attract more visitors", "after a long debate",
    "to help local families", "because of the rain", "with help from volunteers",
    "to cut energy costs", "after many complaints", "to reduce waiting times",
)
DETAILS: tuple[str, ...] = (
    "Most people welcomed the change.", "The plan was paid for by a local grant.",
    "Some residents asked for more time to comment.", "A public meeting is planned for May.",
    "The manager said the results were better than expected.", "Tickets are available online.",
    "Staff will share an update at the end of the month.", "Parking nearby will be limited.",
    "Visitors can still use the side entrance.", "The cost was lower than the first estimate.",
    "Several volunteers helped over the weekend.", "More changes may follow next year.",
    "Questions can be sent to the front desk.", "The board will review the numbers in July.",
)

COUNTRIES_CAPITALS: tuple[tuple[str, str], ...] = (
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Egypt", "Cairo"), ("Canada", "Ottawa"), ("Kenya", "Nairobi"), ("Peru", "Lima"),
    ("Norway", "Oslo"), ("Germany", "Berlin"), ("India", "New Delhi"), ("Brazil", "Brasilia"),
    ("Greece", "Athens"), ("Poland", "Warsaw"), ("Chile", "Santiago"), ("Ireland", "Dublin"),
)

REVIEW_PARTS: dict[str, tuple[str, ...]] = {
    "positive": ("I loved it.", "Great value and fast delivery.",
                 "Works perfectly, highly recommended.", "The staff were very kind.",
                 "Best purchase this year."),
    "negative": ("It broke after one day.", "Very slow and hard to use.", "I want my money back.",
                 "The food was cold.", "Not worth the price."),
}

POEM_WORDS: tuple[str, ...] = (
    "rain", "the sea", "autumn", "a cat", "the moon", "snow", "a garden", "the city", "coffee",
    "morning", "a train", "the wind",
)
# fmt: on

#: Words to copy in the copying tasks: every word of the pools above, lowercase, deduplicated.
COPY_WORDS: tuple[str, ...] = tuple(
    sorted(
        {w.lower() for v in LIST_CATEGORIES.values() for w in v if " " not in w}
        | {n.lower() for n in FIRST_NAMES + LAST_NAMES}
        | {w.lower() for w in SUBJECT_NOUNS + SUBJECT_ADJS if w and " " not in w}
    )
)
