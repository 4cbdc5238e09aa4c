"""Word pools for the demo company: names, companies, titles, subjects and body sentences.

The first users of syncd are French-speaking SMB sales teams, so the pools are French-heavy on
purpose: accented and hyphenated names, particles and apostrophes (``N'Diaye``, ``Le Gall``),
Belgian, Swiss and Québécois surnames, French subjects with typographic characters, and a minority
of English correspondents because real mailboxes are mixed-language. Every tricky case here
(encoded words, ASCII folding of local parts, thread prefixes) is something the importer meets in
production, so the demo exercises it from the first run.

Everything is a tuple so that ``random.Random.choice`` over it is deterministic and cheap.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- people

FIRST_NAMES_F: tuple[str, ...] = (
    "Éloïse", "Hélène", "Céline", "Agnès", "Gaëlle", "Zoé", "Chloé", "Noémie", "Léa", "Anaïs",
    "Maïwenn", "Aurélie", "Mélanie", "Valérie", "Cécile", "Thérèse", "Amélie", "Émilie", "Élodie",
    "Bérénice", "Inès", "Maëlys", "Héloïse", "Laëtitia", "Ophélie", "Sophie", "Camille", "Julie",
    "Marie", "Claire", "Nathalie", "Isabelle", "Sandrine", "Margaux", "Manon", "Sarah", "Pauline",
    "Marie-Hélène", "Anne-Sophie", "Marie-Noëlle", "Solène", "Clémence", "Gwénaëlle", "Jeanne",
    "Françoise", "Danièle", "Josée", "Renée", "Geneviève", "Mégane", "Yasmine", "Fatoumata",
)

FIRST_NAMES_M: tuple[str, ...] = (
    "François", "Jérôme", "Frédéric", "Maël", "Raphaël", "Gaël", "Joël", "Noël", "Clément",
    "Benoît", "Stéphane", "Sébastien", "Jérémy", "Théo", "Mathéo", "Loïc", "Hervé", "René",
    "André", "Léon", "Timothée", "Nathanaël", "Thomas", "Nicolas", "Julien", "Antoine", "Pierre",
    "Guillaume", "Olivier", "Laurent", "Vincent", "Mathieu", "Hugo", "Lucas", "Yann", "Erwan",
    "Jean-François", "Pierre-Étienne", "Jean-Michel", "Marc-André", "Grégoire", "Rémi", "Aurélien",
    "Étienne", "Célestin", "Anatole", "Karim", "Mamadou", "Bastien", "Cédric", "Régis", "Valentin",
)

LAST_NAMES_FR: tuple[str, ...] = (
    "Dupré", "Lefèvre", "Bérard", "Gérard", "Mérieux", "Thébault", "Lemaître", "Benoît", "Hébert",
    "Léger", "Séguin", "Barthélemy", "Ménard", "Rémy", "Frémont", "Chénier", "Després", "Évrard",
    "Prévost", "Gaillard", "Moreau", "Rousseau", "Lambert", "Fontaine", "Chevalier", "Robin",
    "Masson", "Martin", "Bernard", "Dubois", "Thomas", "Petit", "Durand", "Leroy", "Garnier",
    "Faure", "Mercier", "Blanc", "Guérin", "Boyer", "Girard", "Lefebvre", "Roux", "Fournier",
    "Morel", "Bonnet", "Perrin", "Marchand", "Duval", "Dumont", "Lemoine", "Le Gall", "Le Goff",
    "Kerjean", "Ollivier", "D'Almeida", "N'Diaye", "Da Silva", "Nguyen", "Benali", "Haddad",
    "Diallo", "de La Rochère", "Crémieux", "Pénicaud", "Aubérieux", "Delacôte", "Château",
)

LAST_NAMES_BE: tuple[str, ...] = (
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
    "De Smet", "Dubois", "Lambert", "Dupont", "Lejeune", "Renard", "Van Damme", "Vandenberghe",
)

LAST_NAMES_CH: tuple[str, ...] = (
    "Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Favre", "Rochat", "Bonvin",
    "Gerber", "Perret", "Reymond", "Chappuis", "Jaquet", "Zürcher",
)

LAST_NAMES_CA: tuple[str, ...] = (
    "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin",
    "Gagné", "Ouellet", "Pelletier", "Bélanger", "Lévesque", "Bergeron", "Leblanc", "Paquette",
)

FIRST_NAMES_EN: tuple[str, ...] = (
    "Emma", "Olivia", "Grace", "Hannah", "Sarah", "Rachel", "Laura", "James", "Oliver", "Harry",
    "George", "Jack", "Daniel", "Matthew", "Andrew", "Michael", "Siobhan", "Niamh", "Connor",
)

LAST_NAMES_EN: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomson", "Walker",
    "O'Brien", "O'Connor", "Hughes", "Clarke", "Patel", "Wright", "Robinson", "Murphy",
)

# Titles of the internal sales team; the first one goes to the team manager.
MANAGER_TITLES: tuple[str, str] = ("Directrice commerciale", "Directeur commercial")
USER_TITLES: tuple[tuple[str, str], ...] = (
    ("Responsable grands comptes", "Responsable grands comptes"),
    ("Ingénieure commerciale", "Ingénieur commercial"),
    ("Chargée d'affaires", "Chargé d'affaires"),
    ("Business developer", "Business developer"),
    ("Ingénieure avant-vente", "Ingénieur avant-vente"),
    ("Assistante commerciale", "Assistant commercial"),
    ("Chargée de clientèle", "Chargé de clientèle"),
    ("Responsable partenariats", "Responsable partenariats"),
)

# (feminine, masculine): French job titles agree with the person.
CONTACT_TITLES_FR: tuple[tuple[str, str], ...] = (
    ("Gérante", "Gérant"), ("Directrice générale", "Directeur général"),
    ("Responsable achats", "Responsable achats"), ("Acheteuse", "Acheteur"),
    ("Directrice administrative et financière", "Directeur administratif et financier"),
    ("DAF", "DAF"), ("Responsable logistique", "Responsable logistique"), ("DSI", "DSI"),
    ("Office manager", "Office manager"), ("Cheffe de projet", "Chef de projet"),
    ("Responsable qualité", "Responsable qualité"),
    ("Directrice des opérations", "Directeur des opérations"), ("Comptable", "Comptable"),
    ("Assistante de direction", "Assistant de direction"),
    ("Responsable d'agence", "Responsable d'agence"), ("Présidente", "Président"),
    ("Co-fondatrice", "Co-fondateur"), ("", ""),
)

CONTACT_TITLES_EN: tuple[str, ...] = (
    "Managing Director", "Procurement Manager", "Head of Operations", "CFO", "IT Manager",
    "Office Manager", "Buyer", "",
)

# --------------------------------------------------------------------------- companies

# (country code, TLDs (repeats weight the draw), legal suffixes, cities, language)
COUNTRIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], str], ...] = (
    ("FR", ("fr", "fr", "fr", "com", "eu"), ("SARL", "SAS", "SA", "EURL", "& Fils", ""),
     ("Lyon", "Nantes", "Bordeaux", "Lille", "Toulouse", "Rennes", "Strasbourg", "Montpellier",
      "Grenoble", "Dijon", "Angers", "Tours", "Clermont-Ferrand", "Saint-Étienne", "Besançon",
      "Orléans", "Reims", "Nîmes", "Aix-en-Provence", "Paris", "Brest", "Quimper", "Annecy"),
     "fr"),
    ("BE", ("be", "be", "eu"), ("SRL", "SA", "SC", ""),
     ("Bruxelles", "Liège", "Namur", "Charleroi", "Mons", "Louvain-la-Neuve", "Wavre"), "fr"),
    ("CH", ("ch", "ch", "com"), ("SA", "Sàrl", ""),
     ("Genève", "Lausanne", "Neuchâtel", "Fribourg", "Sion", "Delémont"), "fr"),
    ("CA", ("ca", "com", "qc.ca"), ("inc.", "ltée", ""),
     ("Montréal", "Québec", "Sherbrooke", "Trois-Rivières", "Gatineau"), "fr"),
    ("GB", ("co.uk", "com"), ("Ltd", "LLP", ""),
     ("London", "Manchester", "Bristol", "Leeds", "Edinburgh"), "en"),
)
COUNTRY_WEIGHTS: tuple[int, ...] = (62, 13, 9, 8, 8)

COUNTRY_TZ: dict[str, str] = {
    "FR": "Europe/Paris",
    "BE": "Europe/Brussels",
    "CH": "Europe/Zurich",
    "CA": "America/Toronto",
    "GB": "Europe/London",
}

COUNTRY_SURNAMES: dict[str, tuple[str, ...]] = {
    "FR": LAST_NAMES_FR,
    "BE": LAST_NAMES_BE + LAST_NAMES_FR[:20],
    "CH": LAST_NAMES_CH + LAST_NAMES_FR[:20],
    "CA": LAST_NAMES_CA,
    "GB": LAST_NAMES_EN,
}

# (trade word used in the name, slug used in the domain, industry)
TRADES_FR: tuple[tuple[str, str, str], ...] = (
    ("Boulangeries", "boulangeries", "Agroalimentaire"),
    ("Transports", "transports", "Transport et logistique"),
    ("Menuiserie", "menuiserie", "Bâtiment"),
    ("Imprimerie", "imprimerie", "Imprimerie et édition"),
    ("Cabinet", "cabinet", "Conseil"),
    ("Fromagerie", "fromagerie", "Agroalimentaire"),
    ("Garage", "garage", "Automobile"),
    ("Pharmacie", "pharmacie", "Santé"),
    ("Électricité", "electricite", "Bâtiment"),
    ("Plomberie", "plomberie", "Bâtiment"),
    ("Vins et Spiritueux", "vins", "Négoce de vins"),
    ("Hôtellerie", "hotellerie", "Hôtellerie-restauration"),
    ("Brasserie", "brasserie", "Hôtellerie-restauration"),
    ("Laboratoires", "labo", "Santé"),
    ("Informatique", "informatique", "Services informatiques"),
    ("Architectes", "architectes", "Architecture"),
    ("Pépinières", "pepinieres", "Horticulture"),
    ("Chocolaterie", "chocolaterie", "Agroalimentaire"),
    ("Optique", "optique", "Commerce de détail"),
    ("Expertise comptable", "expertise", "Expertise comptable"),
    ("Nettoyage", "nettoyage", "Services aux entreprises"),
    ("Mécanique de précision", "meca", "Industrie"),
    ("Textiles", "textiles", "Textile"),
    ("Éditions", "editions", "Imprimerie et édition"),
)

TRADES_EN: tuple[tuple[str, str, str], ...] = (
    ("Logistics", "logistics", "Transport and logistics"),
    ("Bakeries", "bakeries", "Food and beverage"),
    ("Consulting", "consulting", "Consulting"),
    ("Printing", "printing", "Printing and publishing"),
    ("Engineering", "engineering", "Manufacturing"),
    ("Wines", "wines", "Wine trade"),
)

# Place-style names ("Imprimerie du Lac") in addition to surname-style ones ("Garage Martin").
# Industries that fit a "<Surname> & Associés" firm.
PARTNERSHIP_INDUSTRIES: tuple[str, ...] = (
    "Conseil", "Expertise comptable", "Architecture", "Services juridiques",
)

PLACE_WORDS: tuple[tuple[str, str], ...] = (
    ("du Lac", "dulac"), ("des Alpes", "desalpes"), ("de l'Ouest", "delouest"),
    ("du Vieux-Port", "vieuxport"), ("des Trois Rivières", "troisrivieres"),
    ("de la Côte", "lacote"), ("du Rhône", "durhone"), ("des Flandres", "flandres"),
    ("Cœur de Loire", "coeurdeloire"), ("de l'Étoile", "letoile"), ("du Léman", "duleman"),
)

# --------------------------------------------------------------------------- noise senders

FREEMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "orange.fr", "free.fr", "hotmail.fr", "yahoo.fr", "laposte.net", "wanadoo.fr",
)

# (display name, address, subject templates) for newsletters: List-Unsubscribe + Precedence bulk.
NEWSLETTERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Les Échos Entrepreneurs", "newsletter@lesechos.fr",
     ("La lettre des PME – n°{n}", "Trésorerie : les 5 réflexes de la rentrée",
      "Financement : ce qui change au {date}")),
    ("Maddyness", "hello@maddyness.com",
     ("La Matinale Maddyness du {date}", "Levées de fonds de la semaine")),
    ("BFM Business", "newsletters@bfmtv.com",
     ("L'essentiel de l'éco – {date}", "Vos rendez-vous business de la semaine")),
    ("Journal du Net", "lettre@journaldunet.com",
     ("JDN : la lettre du commerce n°{n}", "Prospection B2B : les tendances {year}")),
    ("CCI Lyon Métropole", "info@lyon-metropole.cci.fr",
     ("Invitation : matinale export du {date}", "Vos formations CCI – sessions {month}")),
    ("Bpifrance", "communication@bpifrance.fr",
     ("Bpifrance Le Lab – étude n°{n}", "Prêt Croissance : webinaire du {date}")),
    ("HubSpot", "news@hubspot.com",
     ("Your weekly sales digest", "State of Sales {year}: the report")),
    ("Welcome to the Jungle", "newsletter@welcometothejungle.com",
     ("Les offres qui recrutent cette semaine", "Manager une équipe commerciale à distance")),
)

# (display name, address, subject templates) for transactional robots (no List-Unsubscribe).
NOTIFIERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("DocuSign", "dse_NA3@docusign.net",
     ("Terminé : {account} – Bon de commande n°{n}", "Veuillez signer : Contrat {account}")),
    ("Microsoft 365", "no-reply@microsoft.com",
     ("Votre abonnement Microsoft 365 Business a été renouvelé",
      "Rapport d'activité hebdomadaire")),
    ("Qonto", "no-reply@qonto.com",
     ("Votre relevé de {month} est disponible", "Nouvelle transaction : {amount} €")),
    ("SNCF Connect", "no-reply@sncf-connect.com",
     ("Votre e-billet pour {city}", "Confirmation de votre voyage du {date}")),
    ("LinkedIn", "messages-noreply@linkedin.com",
     ("{first}, vous avez 3 nouvelles invitations", "Vous apparaissez dans 12 recherches")),
    ("Calendly", "notifications@calendly.com",
     ("Nouvel événement : {first} {last} – Démo 30 min", "Événement annulé : Démo 30 min")),
    ("Pennylane", "noreply@pennylane.com",
     ("Facture n°{n} payée par {account}", "Relance automatique : facture n°{n}")),
    ("Doctolib", "no-reply@doctolib.fr",
     ("Rappel : votre rendez-vous du {date}", "Confirmation de rendez-vous")),
)

LEAD_SOURCES: tuple[str, ...] = (
    "Salon", "Site web", "Formulaire de contact", "LinkedIn", "Recommandation", "Webinaire",
    "Appel entrant", "Partenaire",
)

LEAD_COMPANIES: tuple[tuple[str, str], ...] = (
    ("Atelier Bois & Design", "atelier-bois-design.fr"),
    ("Domaine des Croix", "domainedescroix.fr"),
    ("Crèche Les Petits Pas", "lespetitspas-creche.fr"), ("Auto-École Saint-Michel", ""),
    ("Ferme du Bocage", "fermedubocage.fr"), ("Studio Lumière", "studio-lumiere.fr"),
    ("Clinique vétérinaire des Acacias", "veto-acacias.fr"), ("Kiné Santé Plus", ""),
    ("Librairie Le Chat Pitre", "lechatpitre.fr"), ("Camping Les Mouettes", "camping-mouettes.fr"),
    ("Boucherie Charcuterie Vallet", ""), ("SCI Les Tilleuls", ""),
    ("Agence Immobilière Horizon", "horizon-immo.fr"), ("Taxi Léman Services", "taxileman.ch"),
    ("Dépanneur Chez Ginette", ""), ("Brasserie artisanale La Mousse", "lamousse-biere.be"),
)

# --------------------------------------------------------------------------- subjects

PRODUCTS: tuple[str, ...] = (
    "licences Pro", "pack Essentiel", "module Facturation", "offre Sérénité", "formation équipe",
    "maintenance annuelle", "option Multi-sites", "abonnement Premium", "intégration comptable",
    "terminal de caisse", "application mobile", "hébergement sécurisé",
)

SALES_SUBJECTS_FR: tuple[str, ...] = (
    "Proposition commerciale – {account}",
    "Devis n°{n} – {product}",
    "Suite à notre échange de {weekday}",
    "Rendez-vous du {date}",
    "Renouvellement du contrat {year}",
    "Présentation de nos solutions",
    "Questions sur l'offre « {product} »",
    "Commande n°{n}",
    "Demande de démonstration",
    "Compte rendu de réunion du {date}",
    "Relance : facture n°{n}",
    "Tarifs {year} – {account}",
    "Votre projet de déploiement à {city}",
    "Mise à jour de votre installation",
    "Conditions générales de vente {year}",
    "Avenant au contrat – {product}",
    "Besoin d'un complément d'information",
    "Nouvelle adresse de livraison",
    "Planning de formation – {product}",
    "Invitation : déjeuner d'affaires à {city}",
)

SALES_SUBJECTS_EN: tuple[str, ...] = (
    "Follow-up on our call",
    "Pricing proposal for {account}",
    "Quick question about the {product}",
    "Contract renewal {year}",
    "Meeting notes – {date}",
    "Purchase order {n}",
    "Introduction: {account} x {company}",
)

INTERNAL_SUBJECTS: tuple[str, ...] = (
    "Point pipeline semaine {week}",
    "Prévisions T{quarter} – à compléter avant vendredi",
    "Dossier {account} – besoin de ton aide",
    "Congés d'été : planning à valider",
    "Pot de départ de {first} jeudi",
    "Déjeuner vendredi ?",
    "Objectifs {year} : premier bilan",
    "Remise exceptionnelle pour {account} ?",
    "Salon Franchise Expo : qui vient ?",
    "Note de frais – déplacement à {city}",
    "Mise à jour du CRM",
    "Passation du compte {account}",
    "Support de présentation v{n}",
    "Fwd interne : retour client {account}",
    "Réunion d'équipe décalée",
)

BROADCAST_SUBJECTS: tuple[str, ...] = (
    "Invitation : petit-déjeuner clients du {date}",
    "Nouveautés de notre catalogue {season}",
    "Fermeture exceptionnelle le {date}",
    "Webinaire : optimiser votre trésorerie avec le {product}",
    "Évolution de nos tarifs au 1er {month}",
    "Notre nouvelle agence à {city}",
    "Enquête de satisfaction {year} – 3 minutes de votre temps",
)

LEAD_SUBJECTS: tuple[str, ...] = (
    "Demande de renseignements",
    "Demande de devis",
    "Question sur vos tarifs",
    "Prise de contact suite au salon",
    "Suite à votre appel",
    "Informations sur le {product}",
    "Bonjour, petite question",
)

PRIVATE_SUBJECTS: tuple[str, ...] = (
    "Entretien annuel – confidentiel",
    "Perso : rendez-vous médical vendredi",
    "Arrêt maladie – justificatif",
    "Demande de congé parental",
    "Augmentation : ma demande",
)

# --------------------------------------------------------------------------- bodies

BROADCAST_BODIES: tuple[str, ...] = (
    "Nous avons le plaisir de vous convier à notre prochain événement clients. Au programme : "
    "retours d'expérience, démonstrations et échanges autour d'un café.",
    "Découvrez les nouveautés de notre catalogue : de nouvelles fonctionnalités pensées pour "
    "simplifier votre quotidien et celui de vos équipes.",
    "Nous vous informons que nos bureaux seront exceptionnellement fermés. Notre support reste "
    "joignable par e-mail pour toute urgence.",
    "Votre avis compte ! Répondez à notre questionnaire de satisfaction, cela ne prend que trois "
    "minutes et nous aide à améliorer nos services.",
)

LEAD_SENTENCES: tuple[str, ...] = (
    "Je souhaiterais obtenir un devis pour une équipe d'une dizaine de personnes.",
    "J'ai vu votre stand au salon et j'aimerais en savoir plus sur vos tarifs.",
    "Pouvez-vous me rappeler ? Je suis joignable en fin de journée.",
    "Nous sommes une petite structure, est-ce que votre offre est adaptée ?",
    "Un confrère m'a recommandé vos services.",
    "Est-il possible d'essayer gratuitement avant de s'engager ?",
)

NOTIFICATION_BODIES: tuple[str, ...] = (
    "Ce message a été envoyé automatiquement, merci de ne pas y répondre.",
    "Pour toute question, rendez-vous dans votre espace client.",
    "Vous recevez cet e-mail car vous avez un compte actif.",
)

GREETINGS_FR: tuple[str, ...] = ("Bonjour {first},", "Bonjour {first},", "Bonjour {first},",
                                 "Bonjour Madame, Monsieur,", "Bonjour à tous,", "Re-bonjour,")
GREETINGS_EN: tuple[str, ...] = ("Hi {first},", "Hello {first},", "Dear {first},")
GREETINGS_INTERNAL: tuple[str, ...] = ("Salut {first},", "Hello {first},", "Bonjour {first},",
                                       "Coucou,", "Hello l'équipe,")

SENTENCES_FR: tuple[str, ...] = (
    "Comme convenu, je vous transmets ci-dessous les éléments évoqués lors de notre échange.",
    "Je reviens vers vous concernant notre proposition, avez-vous pu en prendre connaissance ?",
    "Pourriez-vous me confirmer le nombre d'utilisateurs concernés ?",
    "Nous pouvons tout à fait adapter l'offre à vos contraintes budgétaires.",
    "Je vous propose un point téléphonique {slot} si cela vous convient.",
    "Merci pour votre retour rapide, c'est noté de notre côté.",
    "Le devis reste valable trente jours à compter d'aujourd'hui.",
    "Notre équipe technique pourra intervenir sur site {slot}.",
    "N'hésitez pas à me solliciter si vous avez la moindre question.",
    "Je mets en copie ma collègue qui suit la partie technique.",
    "Nous avons bien reçu votre bon de commande, merci !",
    "La facture correspondante vous sera adressée en fin de mois.",
    "Pouvez-vous me préciser vos disponibilités pour une démonstration ?",
    "Je me permets de vous relancer au sujet de notre dernière proposition.",
    "Voici le lien vers la documentation : https://docs.exemple.fr/guide-demarrage",
    "Nous sommes ravis de vous compter parmi nos clients.",
)

SENTENCES_EXTERNAL_FR: tuple[str, ...] = (
    "Merci pour votre message, je regarde cela avec notre direction.",
    "C'est bien reçu, je reviens vers vous d'ici la fin de semaine.",
    "Nous aurions besoin d'un délai supplémentaire pour valider le budget.",
    "Le créneau proposé me convient parfaitement.",
    "Pourriez-vous nous faire parvenir une version mise à jour du devis ?",
    "Je suis en déplacement cette semaine, pouvons-nous décaler à {slot} ?",
    "Nous validons la proposition, le bon de commande suit.",
    "Est-il possible d'obtenir une remise pour un engagement sur deux ans ?",
    "Je transfère à notre comptable qui vous répondra directement.",
    "Nous rencontrons un souci avec la dernière mise à jour, pouvez-vous nous aider ?",
)

SENTENCES_EN: tuple[str, ...] = (
    "Thanks for your time on the phone earlier.",
    "Please find our updated proposal below.",
    "Could you confirm the number of seats you need?",
    "I'd be happy to set up a demo {slot}.",
    "Let me know if anything is unclear.",
    "We have signed off on the budget, the purchase order will follow.",
    "Would it be possible to push our meeting to {slot}?",
)

SENTENCES_INTERNAL: tuple[str, ...] = (
    "Tu peux jeter un œil avant que je l'envoie au client ?",
    "J'ai mis à jour le fichier sur le Teams de l'équipe.",
    "On en parle au point de lundi ?",
    "Le client attend une réponse avant vendredi, c'est assez urgent.",
    "Je m'occupe de la relance, tu gères la démo ?",
    "Pense à saisir tes opportunités dans le CRM avant la revue.",
    "Top, merci beaucoup !",
    "Je suis en rendez-vous tout l'après-midi, je te rappelle {slot}.",
    "Qui est dispo pour accompagner {first} chez le client ?",
)

SIGN_OFFS_FR: tuple[str, ...] = ("Cordialement,", "Bien cordialement,", "Bonne journée,",
                                 "Belle journée,", "Bien à vous,", "Merci d'avance,")
SIGN_OFFS_EN: tuple[str, ...] = ("Best regards,", "Kind regards,", "Thanks,", "Cheers,")
SIGN_OFFS_INTERNAL: tuple[str, ...] = ("Merci !", "A+", "Bonne journée,", "Bises,", "Merci,")

OOO_BODIES_FR: tuple[str, ...] = (
    "Bonjour,\r\n\r\nJe suis absent(e) du bureau jusqu'au {date} inclus, avec un accès limité à "
    "mes e-mails. Pour toute urgence, merci de contacter l'accueil au {phone}.\r\n\r\n"
    "Cordialement,\r\n{name}",
    "Bonjour,\r\n\r\nJe suis actuellement en congés et serai de retour le {date}. Votre message "
    "ne sera pas transféré.\r\n\r\nBien à vous,\r\n{name}",
)
OOO_BODY_EN: str = ("Hello,\r\n\r\nI am out of the office until {date} with limited access to "
                    "email.\r\n\r\nKind regards,\r\n{name}")

# --------------------------------------------------------------------------- calendar

CUSTOMER_MEETINGS: tuple[str, ...] = (
    "Rendez-vous {account}", "Démo {product} – {account}", "Point d'avancement {account}",
    "Lancement du projet {account}", "Revue annuelle {account}", "Atelier de cadrage – {account}",
    "Signature du contrat {account}", "Visite du site de {city}",
)
INTERNAL_MEETINGS: tuple[str, ...] = (
    "Revue du pipeline", "Préparation rendez-vous {account}", "Atelier prospection",
    "Formation CRM", "Brainstorming offre {season}", "Point RH", "Revue des prévisions T{quarter}",
)
LARGE_MEETINGS: tuple[str, ...] = (
    "Webinaire clients : nouveautés {season}", "Séminaire commercial {year}",
    "Kick-off commercial", "Matinale clients à {city}", "Formation produit – {product}",
    "Club utilisateurs {year}",
)
RECURRING_MEETINGS: tuple[str, ...] = (
    "Point hebdo équipe commerciale", "One-to-one {first}", "Point pipeline du lundi",
    "Revue grands comptes",
)
PRIVATE_MEETINGS: tuple[str, ...] = (
    "Rendez-vous médical", "Dentiste", "Récupérer les enfants", "Rendez-vous banque",
    "Déjeuner perso", "Kiné",
)

# --------------------------------------------------------------------------- French calendar words

WEEKDAYS_FR: tuple[str, ...] = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
                                "dimanche")
WEEKDAYS_FR_ABBR: tuple[str, ...] = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
MONTHS_FR: tuple[str, ...] = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet",
                              "août", "septembre", "octobre", "novembre", "décembre")
SEASONS_FR: tuple[str, ...] = ("d'hiver", "de printemps", "d'été", "d'automne")
