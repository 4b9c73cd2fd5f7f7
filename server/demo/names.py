"""Fictional names for the demo school, of the varied heritage of a British primary school.

None of them comes from the school policy that Haven replaces.
"""

# fmt: off
FIRST_NAMES = [
    "Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Freya", "Arthur", "Poppy", "Oscar",
    "Aisha", "Muhammad", "Maryam", "Yusuf", "Zainab", "Ibrahim", "Fatima", "Ayaan", "Inaya",
    "Hamza", "Priya", "Arjun", "Anaya", "Rohan", "Diya", "Vihaan", "Saanvi", "Kiran",
    "Simran", "Harjit", "Chidi", "Amara", "Tobi", "Folake", "Kwame", "Adaeze", "Kofi",
    "Nia", "Tariq", "Ebony", "Jayden", "Precious", "Malachi", "Shanice", "Kai", "Mei",
    "Jun", "Lin", "Hana", "Ren", "Zofia", "Jakub", "Lena", "Mateusz", "Natalia", "Piotr",
    "Ioana", "Andrei", "Elif", "Emre", "Sofia", "Luca", "Chiara", "Mateo", "Lucía", "Tomás",
    "Aoife", "Cian", "Niamh", "Oisín", "Siân", "Rhys", "Cerys", "Dylan", "Eilidh", "Callum",
    "Mhairi", "Finlay", "Zoë", "Alexander", "Elizabeth", "Samuel", "Katherine", "Thomas",
    "Oluwaseun", "Benjamin", "Margaret", "Christopher", "Olumide", "Wojciech", "Theodore",
    "Florence", "Jacob", "Grace", "Harrison", "Evie", "Reuben", "Ruby", "Esme", "Ezra",
]

# Formal first names that children are often known by in school.
SHORT_NAMES = {
    "Alexander": "Alex",
    "Elizabeth": "Libby",
    "Samuel": "Sam",
    "Katherine": "Kate",
    "Thomas": "Tom",
    "Oluwaseun": "Seun",
    "Benjamin": "Ben",
    "Margaret": "Maggie",
    "Christopher": "Kit",
    "Olumide": "Mide",
    "Wojciech": "Wojtek",
    "Theodore": "Teddy",
}

SURNAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Ahmed", "Hussain", "Ali", "Begum", "Rahman",
    "Chowdhury", "Iqbal", "Malik", "Sharma", "Singh", "Kaur", "Gill", "Sandhu", "Mistry",
    "Okafor", "Adeyemi", "Mensah", "Owusu", "Eze", "Nwosu", "Campbell", "Grant", "Francis",
    "Morgan", "Chen", "Wong", "Li", "Nguyen", "Tanaka", "Nowak", "Kowalczyk", "Wiśniewska",
    "Popescu", "Yilmaz", "Demir", "Rossi", "Ferreira", "Silva", "García", "Murphy", "Byrne",
    "O'Connor", "Kelly", "Doherty", "Pritchard", "Llewellyn", "Price", "MacLeod", "Fraser",
    "Stewart", "Henderson", "Baker", "Fletcher", "Ashworth", "Whitfield", "Ellison", "Lowe",
    "Parkinson",
]

# Surnames a child may be known by when it differs from the legal one on the MIS.
PREFERRED_SURNAMES = ["Fletcher-Baker", "Ashworth", "Campbell-Grant", "Ellison", "Whitfield"]
# fmt: on
