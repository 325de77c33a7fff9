#!/usr/bin/env python3
"""Writes pairs-holdout.jsonl: 60 more labelled pairs written after the verifier's rules were fixed on
pairs.jsonl, and never used to tune them: an honest estimate of how the rules generalise."""
import json, pathlib

PARAPHRASES = [
    ("How do I clear the cache in Firefox?", "How can I clear Firefox's cache?"),
    ("What is the capital of Canada?", "Which city is the capital of Canada?"),
    ("How do I resize an image in Photoshop?", "How can I change the size of an image in Photoshop?"),
    ("What does CPU stand for?", "What is the meaning of CPU?"),
    ("How do I free up disk space on a Mac?", "How can I free disk space on my Mac?"),
    ("Who was the first person on the Moon?", "Who first walked on the Moon?"),
    ("How do I split a string in Python?", "How can I split a Python string?"),
    ("What is the boiling point of milk?", "At what temperature does milk boil?"),
    ("How do I lose weight quickly?", "What is the fastest way to lose weight?"),
    ("What causes rainbows?", "Why do rainbows appear?"),
    ("How do I back up my iPhone?", "How can I make a backup of my iPhone?"),
    ("What is the smallest country in the world?", "Which country is the smallest in the world?"),
    ("How do I get rid of hiccups?", "How can I stop hiccups?"),
    ("What is the longest river in Europe?", "Which river in Europe is the longest?"),
    ("How do I update Node.js?", "How can I upgrade Node.js to a newer version?"),
    ("Why do leaves change color in the fall?", "What makes leaves change color in autumn?"),
    ("How many teeth does an adult have?", "How many teeth do adults have?"),
    ("What is the difference between RAM and ROM?", "How does RAM differ from ROM?"),
    ("How do I tie a tie?", "What are the steps to tie a necktie?"),
    ("What is the speed of sound?", "How fast does sound travel?"),
    ("How do I create a new branch in git?", "How can I make a new git branch?"),
    ("Is chocolate bad for dogs?", "Is chocolate harmful to dogs?"),
    ("What is the largest desert in the world?", "Which desert is the biggest in the world?"),
    ("How do I reset my router?", "How can I restart my router to factory settings?"),
    ("What year did the Titanic sink?", "When did the Titanic sink?"),
    ("How do I remove duplicates from a list in Python?", "How can I delete duplicate items from a Python list?"),
    ("What is the main function of the heart?", "What does the heart do?"),
    ("How do I convert 5 feet to meters?", "How many meters are 5 feet?"),
    ("What is the official language of Egypt?", "Which language is official in Egypt?"),
    ("How can I learn to code?", "What is a good way to learn programming?"),
]
NEAR_MISSES = [
    ("How do I clear the cache in Firefox?", "How do I clear the cache in Safari?", "entity"),
    ("What is the capital of Canada?", "What is the capital of Mexico?", "entity"),
    ("How do I split a string in Python?", "How do I split a string in Ruby?", "entity"),
    ("What is the boiling point of milk?", "What is the boiling point of oil?", "entity"),
    ("How many teeth does an adult have?", "How many teeth does a dog have?", "entity"),
    ("How do I convert 5 feet to meters?", "How do I convert 5 meters to feet?", "direction"),
    ("How do I convert 5 feet to meters?", "How do I convert 6 feet to meters?", "number"),
    ("Sort the names alphabetically from A to Z", "Sort the names alphabetically from Z to A", "direction"),
    ("How do I zip a folder in Windows?", "How do I unzip a folder in Windows?", "direction"),
    ("How do I connect to a VPN on Linux?", "How do I disconnect from a VPN on Linux?", "direction"),
    ("What is the smallest country in the world?", "What is the largest country in the world?", "direction"),
    ("How do I lock my screen on a Mac?", "How do I unlock my screen on a Mac?", "direction"),
    ("Is chocolate bad for dogs?", "Is chocolate not bad for dogs?", "negation"),
    ("Why does my phone charge?", "Why doesn't my phone charge?", "negation"),
    ("Which metals are magnetic?", "Which metals are not magnetic?", "negation"),
    ("Is it healthy to skip breakfast?", "Is it unhealthy to skip breakfast?", "negation"),
    ("What year did the Titanic sink?", "What year did the Lusitania sink?", "entity"),
    ("What is 12 divided by 4?", "What is 12 divided by 3?", "number"),
    ("Name 5 famous painters", "Name 10 famous painters", "number"),
    ("What was the weather last week in Rome?", "What will the weather be next week in Rome?", "time"),
    ("What is on TV tonight?", "What is on TV tomorrow?", "time"),
    ("Translate goodbye to Italian", "Translate goodbye to Spanish", "language"),
    ("What is your name?", "Comment tu t'appelles?", "language"),
    ("What is the longest river in Europe?", "What is the longest river in Africa?", "entity"),
    ("How do I update Node.js?", "How do I update Python?", "entity"),
    ("How do I encode a URL in JavaScript?", "How do I decode a URL in JavaScript?", "direction"),
    ("How do I install Docker on Ubuntu?", "How do I uninstall Docker on Ubuntu?", "direction"),
    ("What were the best movies of 2019?", "What were the best movies of 2020?", "number"),
    ("Who won the World Cup in 2014?", "Who won the World Cup in 2018?", "number"),
    ("What is the oldest city in Europe?", "What is the newest city in Europe?", "direction"),
]
lines = [{"a": a, "b": b, "same": True, "kind": "paraphrase"} for a, b in PARAPHRASES]
lines += [{"a": a, "b": b, "same": False, "kind": k} for a, b, k in NEAR_MISSES]
out = pathlib.Path(__file__).with_name("pairs-holdout.jsonl")
out.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines))
print(f"{out}: {len(PARAPHRASES)} paraphrases, {len(NEAR_MISSES)} near-misses")
