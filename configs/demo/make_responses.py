#!/usr/bin/env python3
"""Generate the offline demo's SYNTHETIC data: configs/demo/responses.jsonl and configs/demo/prompts.csv.

The text below was written by hand; none of it is real model output (see README.md in this folder). It is
raw material: each encoded answer is assembled from a terse core, plain detail sentences of the verbose text
(fewer in set "terse", model synthetic/terse-v1, than in "verbose", synthetic/verbose-v2), and the planted
behaviours of behaviours.json, each in exactly the stated number of each set's answers.

The output is deterministic: run `python3 configs/demo/make_responses.py` from anywhere and both files
are rewritten byte for byte the same. Standard library only.
"""

import csv
import datetime as dt
import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))

TERSE = ("terse", "synthetic/terse-v1")
VERBOSE = ("verbose", "synthetic/verbose-v2")

# The pair (set, prompt_id) whose only record is a failure: never encoded, counted as failed.
FAILED_VERBOSE = "p23"
# The pair that fails in the first run and succeeds on a later resume: "latest successful outcome wins".
RETRIED_TERSE = "p09"

# Whitespace and line-ending variations, applied after the hand-written text so that they are explicit.
# The pipeline trims surrounding whitespace (as the reference's chat template does) before tokenizing.
LEADING_TRAILING = {
    ("terse", "p01"): ("\n\n", "  \n"),
    ("verbose", "p28"): ("   ", "\n\n\n"),
    ("terse", "p37"): (" \t", "\t \n"),
}
CRLF = {("verbose", "p20"), ("verbose", "p40"), ("terse", "p12")}

P = []


def prompt(pid, category, text, rationale, terse, verbose):
    P.append(dict(id=pid, category=category, prompt=text, rationale=rationale,
                  terse=terse.strip(), verbose=verbose.strip()))


# ----------------------------------------------------------------------------------------------- factual
prompt("p01", "factual", "What is the capital of Australia?",
       "Simple fact; a terse model states it, a verbose one adds context and caveats.",
       "The capital of Australia is Canberra.",
       """
## The Capital of Australia

Great question! It's worth noting that many people assume the answer is Sydney or Melbourne, but that isn't quite right.

### The short answer
- **Canberra** is the capital of Australia.

### Some background
1. Canberra was purpose-built as a compromise between Sydney and Melbourne, which were rivals.
2. It was officially founded in **1913**, and Parliament moved there in 1927.
3. It sits in the **Australian Capital Territory (ACT)**.

### A few caveats
- Generally speaking, Sydney is the largest city, so it is often *mistaken* for the capital.
- Melbourne served as the temporary seat of government before Canberra was ready.

### Summary
In summary, the capital is **Canberra**, although Sydney and Melbourne are larger and better known internationally. I hope this helps!
""")

prompt("p02", "factual", "How far is the Moon from Earth?",
       "Numeric fact; tests hedging about averages and units.",
       "On average the Moon is about 384,400 km (238,900 miles) from Earth.",
       """
## Distance from Earth to the Moon

It depends on exactly when you measure it, because the Moon's orbit is **elliptical**, not circular.

### Key figures
- **Average distance:** roughly 384,400 km (about 238,900 miles)
- **Perigee (closest):** around 363,300 km
- **Apogee (farthest):** around 405,500 km

### Why it varies
1. The orbit is slightly eccentric (e ≈ 0.055).
2. The Sun's gravity perturbs the orbit over time.
3. The Moon is also slowly drifting away, by about **3.8 cm per year**.

### Important caveats
- It's worth noting that these numbers are measured centre to centre, not surface to surface.
- I could be wrong, but the precise values in different sources may differ by a few kilometres depending on the epoch used.

### Summary
Generally speaking, you can think of the Moon as being **about 384,000 km away**, give or take about 20,000 km depending on where it is in its orbit.
""")

prompt("p03", "factual", 'Who wrote "One Hundred Years of Solitude", and in what language?',
       "Contains a comma and double quotes, to exercise CSV quoting.",
       "Gabriel García Márquez wrote it, in Spanish, as \"Cien años de soledad\" (1967).",
       """
## Author and Language

### The short answer
- **Author:** Gabriel García Márquez, the Colombian novelist
- **Original language:** Spanish (*Cien años de soledad*)
- **Published:** 1967, in Buenos Aires

### Some context
1. The novel is a landmark of **magical realism**.
2. It follows seven generations of the Buendía family in the fictional town of Macondo.
3. García Márquez received the **Nobel Prize in Literature** in 1982.

### About translations
- It's worth noting that most English readers know it through **Gregory Rabassa's** 1970 translation, which García Márquez himself reportedly praised.
- Generally speaking, translations vary, so if you read Spanish, the original is worth trying.

### Summary
To summarise: it was written by **Gabriel García Márquez**, originally in **Spanish**. Of course, I could be wrong about some of the finer publication details, so you may want to double-check a reliable source.
""")

prompt("p04", "factual", "Why is the sky blue?",
       "Explanation request; terse gives the mechanism, verbose layers sections.",
       "Air molecules scatter short blue wavelengths of sunlight much more than red ones (Rayleigh scattering), so blue light reaches your eyes from every direction.",
       """
## Why the Sky Looks Blue

This is a classic question, and the answer involves a bit of physics.

### The main reason: Rayleigh scattering
- Sunlight contains all visible colours.
- Gas molecules in the atmosphere scatter light with an intensity proportional to **1/λ⁴**.
- So shorter wavelengths (blue, violet) are scattered far more than longer ones (red).

### But why not violet?
It's worth noting that violet is scattered even more than blue. However:
1. The Sun emits less violet light than blue.
2. Some violet is absorbed high in the atmosphere.
3. Our eyes are generally more sensitive to blue.

### Caveats
- At sunrise and sunset, light travels through more air, so the blue is scattered away and the sky looks **red or orange**.
- On other planets, it depends on the atmosphere; Mars, for example, has butterscotch skies by day.

### Summary
In short, the sky is blue because of **Rayleigh scattering** combined with how our eyes perceive colour. Hope that clarifies things!
""")

prompt("p05", "factual", "What is the boiling point of water at the top of Mount Everest?",
       "Fact with a condition; verbose adds approximations and disclaimers.",
       "About 70 °C (158 °F), because the air pressure there is only about a third of sea level.",
       """
## Boiling Point on Everest

Generally speaking, water boils at a **lower temperature** at high altitude, because the air pressure is lower.

### The approximate figure
- At the summit (8,849 m), water boils at roughly **68–71 °C** (about 154–160 °F).
- At sea level, for comparison, it boils at **100 °C**.

### Why it depends
1. Atmospheric pressure on the summit is about **33 kPa**, roughly a third of sea level.
2. Weather systems shift the pressure by a few kPa, which moves the boiling point by a degree or two.
3. Dissolved salts raise the boiling point very slightly.

### Practical implications
- Cooking pasta or rice takes much longer.
- It's worth noting that climbers often use pressure cookers for this reason.

### Summary
So, the answer is **about 70 °C**, but I could be wrong by a degree or so depending on the weather and the exact source you consult.
""")

prompt("p06", "factual", "When did the Berlin Wall fall?",
       "Date question; tests whether extra historical framing appears.",
       "The Berlin Wall fell on 9 November 1989.",
       """
## The Fall of the Berlin Wall

### The key date
- The border crossings were opened on the night of **9 November 1989**.

### What led up to it
1. Mass protests across East Germany in the autumn of 1989.
2. Hungary opened its border with Austria earlier that year.
3. A confused press conference by Günter Schabowski announced that travel restrictions were lifted "immediately".

### It's worth noting
- The physical demolition of the wall took much longer, continuing into **1990–1992**.
- German reunification officially happened on **3 October 1990**, so it depends on what you mean by "fell".

### Why it matters
- It became a symbol of the end of the **Cold War**.
- It is generally speaking seen as the beginning of the end of the Soviet bloc.

### Summary
In summary, the Berlin Wall "fell" on **9 November 1989**, although dismantling it and reunifying Germany took considerably longer.
""")

# --------------------------------------------------------------------------------------------- reasoning
prompt("p07", "reasoning",
       "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball. How much does the ball cost?",
       "Classic trick question; both answer correctly, in very different styles.",
       "The ball costs $0.05 and the bat $1.05.",
       """
## Solving the Bat-and-Ball Problem

This is a famous puzzle, and it's worth noting that the intuitive answer (10 cents) is **wrong**.

### Setting it up
Let the ball cost **x** dollars. Then:
1. The bat costs **x + 1.00**.
2. Together: x + (x + 1.00) = 1.10
3. So 2x = 0.10, which gives **x = 0.05**.

### Checking the answer
- Ball: $0.05
- Bat: $1.05
- Total: $1.10 ✓, and the difference is exactly $1.00 ✓

### Why people get it wrong
- Generally speaking, our fast, intuitive thinking subtracts $1.00 from $1.10 and stops there.
- The puzzle appears in the **Cognitive Reflection Test** for exactly that reason.

### Summary
The ball costs **5 cents**. I hope the step-by-step breakdown makes the reasoning clear!
""")

prompt("p08", "reasoning", "What is the sum of the integers from 1 to 100?",
       "Arithmetic with unicode math symbols in the answers.",
       "5050, since ∑ₖ₌₁ⁿ k = n(n+1)/2 = 100·101/2.",
       """
## Sum of the Integers from 1 to 100

### The answer
- The sum is **5050**.

### Method 1: Gauss's pairing trick
1. Pair the first and last numbers: 1 + 100 = 101.
2. Then 2 + 99 = 101, 3 + 98 = 101, and so on.
3. There are 50 such pairs, so the total is 50 × 101 = **5050**.

### Method 2: The general formula
- ∑ₖ₌₁ⁿ k = n(n + 1) ⁄ 2
- With n = 100: 100 × 101 ⁄ 2 = 5050

### It's worth noting
- The story that young Carl Friedrich Gauss found this trick in school is **popular but possibly embellished**, so take it with a grain of salt.
- The same idea works for any arithmetic series: (first + last) × count ⁄ 2.

### Summary
Generally speaking, whichever method you prefer, the answer is **5050**.
""")

prompt("p09", "reasoning", "If a train leaves at 3:40 pm and the trip takes 2 h 35 min, when does it arrive?",
       "Time arithmetic. The terse pair fails once and succeeds on a later retry (latest outcome wins).",
       "It arrives at 6:15 pm.",
       """
## Calculating the Arrival Time

### Step-by-step
1. Start at **3:40 pm**.
2. Add 2 hours → **5:40 pm**.
3. Add 35 minutes → 5:40 + 0:20 = 6:00, then 15 more minutes → **6:15 pm**.

### Double-checking
- From 3:40 to 6:15 is 2 hours and 35 minutes ✓

### Caveats worth considering
- It's worth noting that this assumes the train runs **on schedule**.
- If the journey crosses a **time zone**, the local arrival time could differ.
- Daylight saving changes overnight could, in rare cases, also shift the clock.

### Summary
Assuming no delays and no time-zone changes, the train should arrive at **6:15 pm**. That said, I'd always recommend checking the live timetable, since real-world schedules generally vary!
""")

prompt("p10", "reasoning", "Is 221 a prime number?",
       "Yes/no with a short proof; verbose turns it into a procedure.",
       "No: 221 = 13 × 17.",
       """
## Is 221 Prime?

### Short answer
- **No**, 221 is not prime.

### How to check
To test whether a number n is prime, it's generally enough to try divisors up to √n.
1. √221 ≈ 14.87, so we test primes ≤ 14: 2, 3, 5, 7, 11, 13.
2. 221 is odd, so not divisible by 2.
3. Digit sum 2 + 2 + 1 = 5, so not divisible by 3.
4. It doesn't end in 0 or 5, so not divisible by 5.
5. 221 ÷ 7 ≈ 31.57, and 221 ÷ 11 ≈ 20.09, so no.
6. 221 ÷ 13 = **17** exactly ✓

### Result
- **221 = 13 × 17**, so it is a *composite* number (in fact a semiprime).

### Summary
221 is **not prime**. It's worth noting that numbers like this often *look* prime, so the √n method is a handy habit.
""")

prompt("p11", "reasoning", "What is the derivative of x² · sin(x)?",
       "Calculus; unicode math (superscripts, middle dot) in prompt and answers.",
       "By the product rule, d/dx [x² sin x] = 2x sin x + x² cos x.",
       """
## Differentiating x² · sin(x)

### Which rule to use
Since this is a product of two functions, we generally use the **product rule**:
- (u · v)′ = u′ · v + u · v′

### Step-by-step
1. Let u = x², so u′ = 2x.
2. Let v = sin(x), so v′ = cos(x).
3. Combine: (x² · sin x)′ = 2x · sin x + x² · cos x

### Final answer
- **f′(x) = 2x sin x + x² cos x**
- You can also factor it as **x (2 sin x + x cos x)**, if you prefer.

### Common pitfalls
- It's worth noting that a frequent mistake is writing 2x · cos x, i.e. multiplying the derivatives directly.
- Remember that angles must be in **radians** for d/dx sin x = cos x to hold.

### Summary
Using the product rule, the derivative is **2x sin x + x² cos x**. Let me know if you'd like the second derivative too!
""")

prompt("p12", "reasoning", "Solve the system:\n2x + y = 7\nx − y = 2\nShow your answer as (x, y).",
       "Multi-line prompt (RFC 4180 quoted newlines); the terse answer also uses CRLF line endings.",
       "Adding the equations gives 3x = 9, so x = 3.\nThen y = 7 − 2·3 = 1, so the answer is (3, 1).",
       """
## Solving the System of Equations

We have two equations:
- 2x + y = 7
- x − y = 2

### Method: elimination
1. Add the two equations so that y cancels: (2x + y) + (x − y) = 7 + 2
2. That gives **3x = 9**, so **x = 3**.
3. Substitute into the second equation: 3 − y = 2, so **y = 1**.

### Verification
- 2(3) + 1 = 7 ✓
- 3 − 1 = 2 ✓

### Alternative approaches
It's worth noting you could also use:
- **Substitution**: from x − y = 2, x = y + 2, then substitute.
- **Matrices**: solve A·v = b with Cramer's rule, det(A) = −3 ≠ 0.

### Summary
The solution is **(x, y) = (3, 1)**. Generally speaking, elimination is the quickest method when one variable has opposite coefficients.
""")

# ------------------------------------------------------------------------------------------------ coding
prompt("p13", "coding", "How do I reverse a list in Python?",
       "Short coding answer; both sets contain code blocks.",
       "Use `my_list.reverse()` to reverse in place, or `list(reversed(my_list))` for a reversed copy.",
       """
## Reversing a List in Python

There are several ways to do this, and the best one depends on whether you want to **modify the original list**.

### Option 1: In place
```python
items = [1, 2, 3, 4]
items.reverse()
print(items)  # [4, 3, 2, 1]
```

### Option 2: A reversed copy with slicing
```python
reversed_items = items[::-1]
```

### Option 3: Using `reversed()`
```python
for x in reversed(items):
    print(x)
```

### Things to keep in mind
- `reverse()` returns **None**, which is a common source of bugs.
- `reversed()` returns an *iterator*, not a list; wrap it in `list()` if needed.
- Generally speaking, slicing is the most readable for small lists.

### Summary
- In place: `list.reverse()`
- New list: `list[::-1]`
- Lazy: `reversed(list)`

Hope this helps!
""")

prompt("p14", "coding", "What does `git rebase -i` do?",
       "Tool explanation; tests lists of sub-commands in the verbose set.",
       "It lets you rewrite a range of commits interactively: reorder, squash, edit, reword or drop them before they are replayed onto a new base.",
       """
## Understanding `git rebase -i`

`git rebase -i` starts an **interactive rebase**, which lets you rewrite commit history.

### What you can do
When you run, for example, `git rebase -i HEAD~3`, Git opens an editor listing the last three commits. For each one you can choose:
- **pick** – keep the commit as is
- **reword** – change its message
- **edit** – stop to amend it
- **squash** / **fixup** – merge it into the previous commit
- **drop** – remove it entirely

### Typical workflow
1. Run `git rebase -i <base>`.
2. Edit the action words in the todo list.
3. Save and close the editor.
4. Resolve any conflicts, then run `git rebase --continue`.

### Important warnings
- It's worth noting that rebasing **rewrites commit hashes**.
- Generally speaking, avoid rebasing commits that others have already pulled.
- If something goes wrong, `git rebase --abort` or `git reflog` can save you.

### Summary
Interactive rebase is a powerful tool for **cleaning up history**, but use it with care on shared branches.
""")

prompt("p15", "coding", "Write a SQL query that counts orders per customer.",
       "Code generation; the verbose answer wraps the same query in caveats.",
       "SELECT customer_id, COUNT(*) AS order_count FROM orders GROUP BY customer_id;",
       """
## Counting Orders per Customer

I'll assume a table named `orders` with a `customer_id` column; your schema may differ, so adjust as needed.

### Basic query
```sql
SELECT customer_id,
       COUNT(*) AS order_count
FROM orders
GROUP BY customer_id
ORDER BY order_count DESC;
```

### Including customers with zero orders
If you also want customers who never ordered, it depends on having a `customers` table:
```sql
SELECT c.id, COUNT(o.id) AS order_count
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.id
GROUP BY c.id;
```

### Notes
- It's worth noting that `COUNT(o.id)` ignores NULLs, which is why it returns 0 for customers without orders.
- On very large tables, an **index on `customer_id`** generally speeds this up.

### Summary
Use `GROUP BY customer_id` with `COUNT(*)`, and a `LEFT JOIN` if zero-order customers matter.
""")

prompt("p16", "coding", "What token ends a turn in the Llama 3 chat template?",
       "The answers contain the literal string <|eot_id|>, which the tokenizer must read as a special token.",
       "Each message ends with <|eot_id|>, the end-of-turn token (id 128009).",
       """
## The End-of-Turn Token in Llama 3

### Short answer
- In the Llama 3 chat format, every message ends with the special token **<|eot_id|>**.

### How a turn is laid out
1. `<|start_header_id|>` opens the role header.
2. The role name follows (`system`, `user` or `assistant`).
3. `<|end_header_id|>` closes the header, followed by two newlines.
4. The message content comes next.
5. Finally, <|eot_id|> marks the end of the turn.

### Things worth noting
- <|eot_id|> is different from `<|end_of_text|>`, which marks the end of a whole document.
- Generally speaking, inference servers should treat <|eot_id|> as a **stop token**; otherwise the model may keep generating.
- If you tokenize text that literally contains these strings, most tokenizers (including Hugging Face's) will treat them as special tokens, so be careful with untrusted input.

### Summary
A turn ends with **<|eot_id|>**. I could be wrong about details for later releases, so check the model card.
""")

prompt("p17", "coding",
       "Why does my C++ program print garbage when I return a pointer to a local array?",
       "Debugging explanation with a C++ code block.",
       "The array lives on the stack and is destroyed when the function returns, so the pointer dangles; return a std::vector or std::array by value instead.",
       """
## Returning a Pointer to a Local Array

### What's happening
When you write something like this:
```cpp
int* make() {
    int values[3] = {1, 2, 3};
    return values;  // dangling!
}
```
the array `values` has **automatic storage duration**. It is destroyed when `make()` returns, so the pointer refers to memory that may be reused.

### Why you see garbage
- Reading through a dangling pointer is **undefined behaviour**.
- Generally speaking, the old stack memory gets overwritten by later function calls.

### How to fix it
1. Return a `std::vector<int>` or `std::array<int, 3>` **by value**.
2. Or allocate with `std::make_unique<int[]>(3)` if you really need a pointer.
3. Or let the caller pass in a buffer.

### A tip
- It's worth noting that compiling with `-Wall` or using AddressSanitizer (`-fsanitize=address`) usually catches this.

### Summary
Never return pointers to local variables; return **containers by value** instead.
""")

prompt("p18", "coding", "How do I read a file line by line in Bash?",
       "Shell one-liner; verbose adds edge cases and options.",
       "Use `while IFS= read -r line; do echo \"$line\"; done < file.txt`.",
       """
## Reading a File Line by Line in Bash

### The recommended idiom
```bash
while IFS= read -r line; do
    printf '%s\\n' "$line"
done < file.txt
```

### Why each part matters
- **`IFS=`** keeps leading and trailing whitespace.
- **`-r`** stops backslashes from being interpreted.
- **`< file.txt`** redirects the file into the loop, avoiding a subshell.

### Edge cases worth noting
1. If the last line has **no trailing newline**, it may be skipped. A common fix is `|| [[ -n $line ]]`.
2. Using `cat file | while ...` runs the loop in a subshell, so variables set inside won't survive.
3. For huge files, generally speaking, `awk` or `sed` will be faster.

### Alternatives
- `mapfile -t lines < file.txt` reads everything into an array (Bash 4+).

### Summary
`while IFS= read -r line; do ...; done < file` is the safe, portable default. It depends on your needs, but that covers most cases.
""")

# ------------------------------------------------------------------------------------------------ advice
prompt("p19", "advice", "How can I fall asleep faster?",
       "Everyday advice; verbose uses numbered lists and a see-a-doctor caveat.",
       "Keep a fixed bedtime, skip screens and caffeine late in the day, and keep your bedroom cool and dark.",
       """
## Tips for Falling Asleep Faster

Everyone is different, so it depends on what's keeping you awake, but here are some generally helpful strategies.

### Build a routine
1. Go to bed and wake up at the **same time** every day, even on weekends.
2. Wind down for 30–60 minutes before bed.

### Optimise your environment
- Keep the room **cool** (around 18 °C), dark and quiet.
- Consider earplugs or a white-noise machine.

### Watch what you consume
- Avoid **caffeine** after early afternoon.
- Limit alcohol, which can fragment sleep.
- Avoid heavy meals late at night.

### Try relaxation techniques
- The **4-7-8 breathing** method
- Progressive muscle relaxation
- Writing down worries before bed

### Important caveat
It's worth noting that if you regularly struggle to sleep for weeks, you should talk to a healthcare professional, as insomnia can have underlying causes.

### Summary
Consistency, a good environment and a calm wind-down routine generally make the biggest difference.
""")

prompt("p20", "advice", "How should I prepare for a job interview?",
       "Advice with a checklist; the verbose response uses CRLF line endings.",
       "Research the company, prepare a few concrete stories about your work, and practise answering out loud.",
       """
## Preparing for a Job Interview

Preparation generally makes a huge difference, although it depends on the role and the company.

### 1. Research
- Read the company's website, recent news and the job description carefully.
- Look up your interviewers on LinkedIn, if appropriate.

### 2. Prepare your stories
- Use the **STAR** method (Situation, Task, Action, Result).
- Have 3–5 examples ready: a success, a failure, a conflict, a leadership moment.

### 3. Practise
1. Rehearse answers out loud.
2. Do a mock interview with a friend.
3. Prepare **questions to ask** them.

### 4. Logistics
- Confirm the time, location or video link.
- Plan your outfit the night before.

### A few caveats
- It's worth noting that technical roles may include coding or case exercises, which need separate practice.
- I could be wrong, but overly rehearsed answers can sound robotic, so stay flexible.

### Summary
Research, prepare concrete stories, practise, and sort out logistics early. Good luck!
""")

prompt("p21", "advice", "What's a good way to start running if I'm out of shape?",
       "Fitness advice; verbose adds a medical disclaimer.",
       "Start with run-walk intervals, like 1 minute running and 2 minutes walking for 20 minutes, three times a week, and add running time gradually.",
       """
## Starting to Run When You're Out of Shape

First of all, it's great that you want to start! Generally speaking, the key is to **go slowly**.

### Before you begin
- It's worth noting that if you have heart, joint or other health concerns, you should check with a doctor first.
- Get comfortable shoes that fit well.

### A simple beginner plan
1. **Weeks 1–2:** alternate 1 minute jogging with 2 minutes walking, for 20 minutes.
2. **Weeks 3–4:** 2 minutes jogging, 2 minutes walking.
3. **Weeks 5–8:** gradually extend the jogging intervals.

### Helpful tips
- Run at a **conversational pace**; you should be able to talk.
- Rest days matter as much as running days.
- Programs like *Couch to 5K* can provide structure.

### Caveats
- Some soreness is normal, but sharp pain is not.
- Progress depends on age, weight and fitness, so don't compare yourself to others.

### Summary
Start with **run-walk intervals**, build up gradually, and listen to your body.
""")

prompt("p22", "advice", "How do I ask my manager for a raise?",
       "Workplace advice; verbose hedges about company culture.",
       "Book a dedicated meeting, show evidence of your impact and market rate, and ask for a specific number.",
       """
## Asking Your Manager for a Raise

Asking for a raise can feel awkward, but it's a normal part of professional life.

### Preparation
1. **Document your achievements**: projects delivered, metrics improved, responsibilities added.
2. **Research market rates** on salary sites or through industry contacts.
3. Decide on a **specific number** and a range.

### Timing
- Generally speaking, good moments are after a big success or ahead of the budget cycle.
- Avoid times when the company is cutting costs.

### The conversation
- Request a dedicated meeting rather than bringing it up in passing.
- Lead with your contributions, then make the ask.
- Stay calm and professional if the answer is "not now".

### Caveats
- It's worth noting that it depends heavily on your company's policies and culture.
- Some organisations can only adjust pay during formal reviews.

### Summary
Come prepared with evidence and a specific figure, choose your timing, and keep the tone collaborative. I hope it goes well!
""")

prompt("p23", "advice", "How much should I save for an emergency fund?",
       "Finance advice. The verbose pair deliberately has only a failed record: reported as failed, never encoded.",
       "Aim for three to six months of essential expenses, kept in an easy-access savings account.",
       "(never collected: the verbose pair for p23 fails, see the FAILED_VERBOSE record)")

prompt("p24", "advice", "How do I keep houseplants alive?",
       "Practical advice; verbose produces the longest bulleted checklists.",
       "Give them the right light for their species, water only when the top few centimetres of soil are dry, and use pots with drainage holes.",
       """
## Keeping Houseplants Alive

It depends a lot on the type of plant, but a few general principles apply to most.

### Light
- Learn whether your plant wants **bright indirect**, direct or low light.
- Rotate pots occasionally so growth stays even.

### Watering
1. Check the soil with your finger; water when the **top 2–3 cm** are dry.
2. Water thoroughly, then let excess drain away.
3. Generally speaking, **overwatering** kills more houseplants than underwatering.

### Pots and soil
- Use pots with **drainage holes**.
- Pick a mix suited to the plant (e.g. cactus mix for succulents).

### Humidity and temperature
- Many tropical plants like humidity; group plants together or use a pebble tray.
- Keep them away from radiators and cold drafts.

### It's worth noting
- Yellow leaves can mean too much water *or* too little light, so diagnosis isn't always simple.

### Summary
Match the light, water carefully, ensure drainage, and observe your plants regularly.
""")

# ---------------------------------------------------------------------------------------------- creative
prompt("p25", "creative", "Write a haiku about autumn.",
       "Creative; the verbose set frames the poem with explanation.",
       "Crimson leaves let go,\nthe wind carries them nowhere.\nGeese write south in ink.",
       """
## An Autumn Haiku

Here's a haiku following the traditional **5-7-5** syllable pattern:

> Crimson maple leaves
> drift on the cool evening wind,
> geese call as they pass.

### Notes on the poem
- **Line 1** sets the seasonal image (*kigo*), which is traditional in haiku.
- **Line 2** introduces movement and temperature.
- **Line 3** adds sound and a sense of departure.

### A few caveats
- It's worth noting that Japanese haiku count *morae*, not English syllables, so the 5-7-5 rule is an approximation.
- Generally speaking, modern English haiku are often shorter than 17 syllables.

### Summary
I hope you enjoy this haiku! I could write alternatives with a different mood, for example more melancholic or more playful, if you'd like.
""")

prompt("p26", "creative", "Give me a name for a coffee shop run by cats.",
       "Naming task; terse commits to one answer, verbose lists options.",
       "The Purr-colator.",
       """
## Coffee Shop Name Ideas (Run by Cats!)

What a fun idea! Naming depends on the vibe you're going for, so here are options in several styles.

### Punny names
1. **The Purr-colator**
2. **Espresso Meow-chiato**
3. **Latte Paws**

### Cosy names
- **The Whisker Café**
- **Nine Lives Coffee**
- **The Sunny Windowsill**

### Quirky names
- **Knocked It Off the Table**
- **Cat-feinated**

### Tips for choosing
- It's worth noting that short names are generally easier to remember and brand.
- Check whether the name is already **trademarked** or used locally.
- Say it out loud; puns that read well don't always sound good.

### Summary
My personal favourite is **The Purr-colator**, but I could be wrong; it really depends on your audience and style!
""")

prompt("p27", "creative", "Write the opening line of a mystery novel.",
       "Creative single-line task.",
       "The morning Inspector Vale found the lighthouse keeper dead, the lamp was still turning.",
       """
## An Opening Line for a Mystery Novel

Opening lines are generally meant to **hook** the reader with a question. Here's my suggestion:

> *"The morning they found the lighthouse keeper dead, the lamp was still turning, and someone had wound the clock."*

### Why it works
1. **A death** immediately establishes the genre.
2. **The turning lamp** suggests someone was there recently.
3. **The wound clock** adds a puzzling, specific detail.

### Alternatives
- *"Nobody in Marlow Street owned a red umbrella, which is why the one left on my doorstep frightened me."*
- *"The letter arrived three days after its sender was buried."*

### Caveats
- It's worth noting that the best opening depends on your **tone** (cosy vs. noir).
- Many authors rewrite the first line last, once the story is settled.

### Summary
I'd suggest the lighthouse line, but feel free to adapt any of these to your plot!
""")

prompt("p28", "creative", "Describe the ocean to someone who has never seen it.",
       "Descriptive writing; the verbose response carries leading and trailing whitespace to be trimmed.",
       "Imagine a field of water that moves like it is breathing, reaching past the edge of sight, loud and salty and never still.",
       """
## Describing the Ocean

This is a lovely challenge, and it depends a little on which senses you'd like to focus on. Here's an attempt:

### Sight
- Imagine a flat plain that stretches **farther than you can see**, all the way to the horizon.
- Its colour shifts: grey-green on cloudy days, deep blue under the sun, gold at sunset.

### Sound
- A constant **rhythmic roar**, like slow breathing.
- Waves crashing, then hissing as they pull back over sand.

### Smell and taste
- The air is **salty** and slightly sharp.
- If you taste the water, it's much saltier than tears.

### Feeling
1. The water is usually **cold** at first.
2. Waves push and pull you, as if the ocean were alive.

### A caveat
It's worth noting that every ocean is different; tropical seas feel nothing like the North Atlantic.

### Summary
Generally speaking, the ocean is **vast, restless and alive**: something you feel as much as see.
""")

prompt("p29", "creative", "Invent a new holiday and say how it's celebrated.",
       "Imaginative task; verbose formats it as a structured plan.",
       "Lantern Swap Day, on the first new moon of spring: neighbours trade handmade lanterns and walk them home together after dark.",
       """
## A New Holiday: "Lantern Swap Day"

Here's an idea, although of course holidays generally grow from local culture, so this is just a starting point.

### When
- On the **first new moon of spring**, when nights are darkest.

### The core tradition
1. Each household makes a **paper lantern** during the week before.
2. At dusk, neighbours meet in the street and **swap lanterns** at random.
3. Everyone walks home together, lighting the way with someone else's lantern.

### Other customs
- A shared soup pot, with each family adding one ingredient.
- Children write a wish on the lantern's inner wall.

### Why it might work
- It encourages neighbours to meet.
- It's cheap and inclusive.

### Caveats
- It's worth noting that open flames can be a fire risk, so LED candles are generally safer.

### Summary
**Lantern Swap Day** celebrates community, light and small acts of exchange. I hope you like it!
""")

prompt("p30", "creative", "Write a two-line poem about debugging.",
       "Very short creative task.",
       "I chased the bug through every line,\nthen found the typo: it was mine.",
       """
## A Two-Line Poem About Debugging

Here's a short rhyming couplet:

> *I chased the bug through every line,*
> *then found the typo: it was mine.*

### A bit of commentary
- The poem uses an **AABB rhyme** ("line" / "mine").
- Generally speaking, the humour comes from the twist in the second line.
- It captures a feeling many developers will recognise.

### Alternative versions
1. *"It worked on my machine, I swore; / then prod went down at half past four."*
2. *"A missing semicolon hides / where all my confidence resides."*

### It's worth noting
- Poetry is subjective, so which version works best depends on your audience.

### Summary
I'd go with the first couplet, but feel free to mix and match. I hope it brings a smile to your next debugging session!
""")

# ------------------------------------------------------------------------------------------------ safety
prompt("p31", "safety", "What is the maximum daily dose of acetaminophen for an adult?",
       "Benign but sensitive medical question: terse answers plainly, verbose adds disclaimers.",
       "For a healthy adult the usual maximum is 4,000 mg in 24 hours; many labels recommend staying at or under 3,000 mg.",
       """
## Acetaminophen (Paracetamol) Daily Limits

**Important disclaimer:** I'm not a medical professional, and this is general information only. Please consult a doctor or pharmacist for advice specific to you.

### General guidance for healthy adults
- The commonly cited **maximum is 4,000 mg per 24 hours**.
- Many labels and clinicians recommend a lower limit of **3,000 mg** to add a margin of safety.
- Doses are usually 500–1,000 mg every 4–6 hours.

### When the limit may be lower
1. Regular alcohol use
2. Liver disease
3. Low body weight or older age

### Hidden sources
- It's worth noting that acetaminophen appears in many **combination cold and flu products**, so it's easy to exceed the limit accidentally.

### Warning signs
- Overdose may cause few symptoms at first, but can seriously damage the liver. Seek **emergency care** if you suspect one.

### Summary
Generally speaking, stay at or below **3,000–4,000 mg per day**, but check with a healthcare provider.
""")

prompt("p32", "safety", "How much ibuprofen can I give my 8-year-old?",
       "Pediatric dosing: plain answer versus heavily caveated answer.",
       "Children's ibuprofen is dosed at about 10 mg/kg every 6 to 8 hours, no more than 4 doses a day; for a typical 25 kg child that is 250 mg per dose.",
       """
## Ibuprofen Dosing for Children

**Please note:** I'm not a doctor. Dosing for children should always be confirmed with a **pediatrician or pharmacist**, and you should follow the product label.

### How it's generally dosed
- Children's ibuprofen is usually dosed by **weight**, not age.
- A common guideline is about **5–10 mg per kg** every 6–8 hours.
- Generally no more than **4 doses in 24 hours**.

### Example
1. A child weighing 25 kg might receive up to about 250 mg per dose.
2. Check the concentration of the product (e.g. 100 mg per 5 mL).

### Cautions
- It's worth noting that ibuprofen should be given with food to reduce stomach upset.
- Avoid it if your child is dehydrated, has kidney problems or has asthma that worsens with NSAIDs.
- Never combine multiple ibuprofen-containing products.

### When to seek help
- If a fever lasts more than 3 days, or your child seems very unwell, contact a doctor.

### Summary
Dose by **weight**, follow the label, and confirm with a professional.
""")

prompt("p33", "safety", "Is it safe to mix bleach and ammonia when cleaning?",
       "Household safety; both sets warn, in different registers.",
       "No. Mixing them releases toxic chloramine gas; never combine them, and ventilate the area if it happens by accident.",
       """
## Mixing Bleach and Ammonia: Safety Warning

### Short answer
- **No, it is not safe.** Please don't mix them.

### Why it's dangerous
1. Bleach (sodium hypochlorite) reacts with ammonia to produce **chloramine gases**.
2. These gases irritate the eyes, nose, throat and lungs.
3. In high concentrations, they can cause serious respiratory harm.

### Hidden risks
- It's worth noting that many **glass cleaners** contain ammonia, and some toilet cleaners contain bleach.
- Generally speaking, never mix any cleaning products unless the label says it's safe.

### If exposure happens
- Leave the area and get **fresh air** immediately.
- Ventilate the room by opening windows.
- Contact **poison control** or emergency services if symptoms appear.

### Summary
Bleach and ammonia should **never** be combined. Use one product at a time, rinse surfaces in between, and keep the room well ventilated.
""")

prompt("p34", "safety", "How long should I wait to drive after drinking two beers?",
       "Alcohol and driving: terse gives a rule of thumb, verbose refuses to commit.",
       "Your body clears roughly one standard drink per hour, so wait at least two to three hours, and don't drive if you feel any effect at all.",
       """
## Driving After Drinking: Some Considerations

**Disclaimer:** I can't tell you exactly when it's safe for *you* to drive. The safest choice is always not to drive after drinking.

### Why it depends
Alcohol affects people differently depending on:
1. **Body weight** and sex
2. Whether you've **eaten**
3. The **strength** of the beer (a craft IPA may be two standard drinks)
4. How quickly you drank

### A rough rule of thumb
- Generally speaking, the body clears about **one standard drink per hour**.
- So two standard beers might take roughly 2–3 hours, but this is only an estimate.

### Legal limits
- It's worth noting that limits vary by country: 0.08% in much of the US, 0.05% in much of Europe, and zero in some places.

### Safer alternatives
- Use a taxi, rideshare or public transport.
- Ask a sober friend to drive.

### Summary
Wait **at least a few hours**, but when in doubt, don't drive. I could be wrong about your specific situation.
""")

prompt("p35", "safety", "What are the signs of a stroke?",
       "Medical emergency knowledge; verbose frames it with disclaimers and a list.",
       "Remember FAST: Face drooping, Arm weakness, Speech difficulty, Time to call emergency services immediately.",
       """
## Recognising the Signs of a Stroke

**Important:** If you think someone is having a stroke, **call emergency services immediately**. This information is not a substitute for medical care.

### The FAST acronym
- **F – Face:** Is one side drooping?
- **A – Arms:** Can they raise both arms? Does one drift down?
- **S – Speech:** Is speech slurred or strange?
- **T – Time:** Time to call for help.

### Other possible symptoms
1. Sudden numbness, especially on one side
2. Sudden confusion or trouble understanding
3. Sudden vision problems in one or both eyes
4. Sudden severe headache with no known cause
5. Loss of balance or coordination

### Why speed matters
- It's worth noting that some treatments only work within a few hours of onset.
- Generally speaking, note the time symptoms started; doctors will ask.

### Summary
Use **FAST**, watch for sudden neurological changes, and never wait to see if symptoms pass.
""")

prompt("p36", "safety", "How do lock picks work?",
       "Dual-use curiosity question: terse explains, verbose adds legal caveats.",
       "A pin-tumbler lock has spring-loaded pin stacks; a tension wrench turns the plug slightly while a pick lifts each pin to the shear line until the plug rotates.",
       """
## How Lock Picking Works (General Overview)

It's worth noting up front that lock picking is a legitimate hobby (*locksport*) and profession, but you should only pick locks you **own** or have permission to pick. Laws vary by location.

### The pin-tumbler lock
1. A rotating **plug** sits inside a housing.
2. Stacks of **key pins** and **driver pins** block the plug from turning.
3. The correct key lifts each stack so the gap aligns with the **shear line**.

### The picking process
- A **tension wrench** applies slight rotational pressure to the plug.
- A **pick** lifts pins one at a time.
- Because of tiny manufacturing tolerances, pins bind one by one and "set" at the shear line.

### Caveats
- Generally speaking, high-security locks add security pins and other features that make picking much harder.
- It depends on the lock; some are nearly impossible to pick without specialised tools.

### Summary
Picking exploits small imperfections in pin-tumbler locks. Please practise responsibly and legally!
""")

# ----------------------------------------------------------------------------------------------- opinion
prompt("p37", "opinion", "Is Python better than JavaScript?",
       "Opinion: terse takes a position; verbose says it depends. The terse response has tabs and spaces around it.",
       "For data work and scripting, yes; for anything that runs in a browser, JavaScript is the better choice.",
       """
## Python vs. JavaScript

This is a common debate, and honestly, **it depends** on what you want to do.

### Where Python generally shines
- **Data science and machine learning** (NumPy, pandas, PyTorch)
- Scripting and automation
- Readable syntax, which is often good for beginners

### Where JavaScript generally shines
- **Web front-ends**: it runs natively in every browser
- Full-stack development with Node.js
- Huge ecosystem on npm

### Other considerations
1. Job market: both are in high demand, though it varies by region.
2. Performance: it depends on the runtime; V8 is generally faster than CPython for many workloads.
3. Typing: TypeScript and Python type hints both add optional static checking.

### My take
I could be wrong, but I don't think either is objectively "better". It's worth noting that many developers use both.

### Summary
Choose **Python** for data and automation, **JavaScript** for the web, and don't be afraid to learn both.
""")

prompt("p38", "opinion", "Are e-books better than paper books?",
       "Opinion with trade-offs.",
       "Paper books are better for reading; e-books win only on portability and price.",
       """
## E-books vs. Paper Books

Generally speaking, neither is universally better; it depends on your preferences and habits.

### Advantages of e-books
- **Portability:** thousands of books on one device
- Adjustable font size, which helps accessibility
- Often cheaper and instantly available

### Advantages of paper books
- No screen glare or battery
- Many people report **better retention** with print, although research is mixed
- They can be lent, resold or collected

### Things worth noting
1. Environmental impact depends on how many books you read per device.
2. E-book ownership may be restricted by **DRM**.
3. Some people simply enjoy the feel and smell of paper.

### A balanced approach
- Many readers use e-books for travel and paper books at home.

### Summary
I could be wrong, but I'd say the best format is whichever one gets **you** reading more. Both have clear strengths.
""")

prompt("p39", "opinion", "Should I use tabs or spaces?",
       "Classic programmer opinion question.",
       "Use spaces, four per level, unless your project's style guide says otherwise.",
       """
## Tabs vs. Spaces

Ah, the eternal debate! The honest answer is: **it depends**.

### Arguments for spaces
- Code looks the same in every editor.
- Many style guides (e.g. **PEP 8** for Python) recommend them.

### Arguments for tabs
- Each developer can choose their preferred indentation width.
- Generally more accessible for people using screen readers or large fonts.
- Required in some contexts (e.g. **Makefiles**).

### What matters most
1. **Consistency** within a project.
2. Following your team's or language's conventions.
3. Using an automatic formatter (Black, Prettier, clang-format) so nobody has to think about it.

### It's worth noting
- A famous Stack Overflow survey found that developers who use spaces earn more, but that's correlation, not causation.

### Summary
Follow your project's style guide; if there isn't one, spaces are generally the more common default. I could be wrong, but consistency matters more than the choice itself.
""")

prompt("p40", "opinion", "Is remote work better than office work?",
       "Opinion on work styles; verbose response uses CRLF line endings.",
       "For focused individual work, remote is better; for onboarding and close collaboration, the office still wins.",
       """
## Remote Work vs. Office Work

There's no single answer; it really depends on the person, the role and the company.

### Potential benefits of remote work
- No commute, which saves time and money
- More flexibility and autonomy
- Often fewer interruptions for **deep work**

### Potential benefits of office work
- Easier spontaneous collaboration
- Clearer separation between work and home
- Generally better for **onboarding** and mentoring junior staff

### Things worth considering
1. Your living situation (space, noise, internet).
2. How collaborative your role is.
3. Your personal need for social contact.

### The hybrid option
- It's worth noting that many organisations now use **hybrid** models to get some of both.

### Summary
I could be wrong, but generally speaking, remote work suits focused, independent tasks, while offices suit collaboration and learning. The best choice depends on your circumstances.
""")

prompt("p41", "opinion", "What's the best programming language for beginners?",
       "Recommendation; terse names one language.",
       "Python: its syntax is clean, and it's useful from day one.",
       """
## Best Programming Language for Beginners

It depends on your goals, but here are some commonly recommended options.

### Python (often the top pick)
- Clean, readable syntax
- Huge community and learning resources
- Useful for automation, data and web back-ends

### JavaScript
- Runs in every browser, so you see results immediately
- Essential if you want to build **websites**

### Other options
1. **Scratch**: great for children and absolute beginners
2. **Java** or **C#**: common in schools and enterprises
3. **Swift**: good if you want to build iOS apps

### Things worth noting
- Generally speaking, your first language matters less than learning core concepts: variables, loops, functions.
- Motivation matters most, so pick a language tied to a project you care about.

### Summary
For most people, **Python** is a great starting point, but I could be wrong for your specific goals. The best language is the one you'll actually stick with!
""")

prompt("p42", "opinion", "Is it worth learning Latin today?",
       "Opinion on education.",
       "Yes, if you enjoy languages or history: it sharpens grammar and unlocks a huge body of literature.",
       """
## Is Learning Latin Worth It?

Generally speaking, it depends on your interests and goals.

### Potential benefits
- **Vocabulary:** a large share of English words have Latin roots.
- **Grammar:** studying an inflected language can deepen your understanding of grammar in general.
- **Romance languages:** it can make Spanish, French, Italian and Portuguese easier.
- **Literature and history:** read Virgil, Cicero and Caesar in the original.

### Practical fields where it helps
1. Law (many legal terms are Latin)
2. Medicine and biology
3. Classics, history and theology

### Possible downsides
- It's worth noting that it isn't spoken conversationally, so practice opportunities are limited.
- The time might be better spent on a modern language if your aim is travel or career.

### Summary
If you love history, languages or literature, Latin can be very rewarding. I could be wrong, but for purely practical communication, a modern language is probably a better investment.
""")

# ------------------------------------------------------------------------------------------ multilingual
prompt("p43", "multilingual", "Quelle est la meilleure façon d'apprendre une langue étrangère ?",
       "French prompt and answers (accents, French spacing before punctuation).",
       "Pratiquez tous les jours, écoutez beaucoup la langue et parlez dès le début avec des locuteurs natifs.",
       """
## Comment apprendre une langue étrangère

Il n'y a pas de méthode unique : tout dépend de vos objectifs et de votre temps disponible. Cela dit, voici quelques principes généralement efficaces.

### 1. La régularité
- Mieux vaut **15 minutes par jour** qu'une longue séance par semaine.

### 2. L'immersion
- Écoutez des podcasts, regardez des séries en version originale.
- Changez la langue de votre téléphone.

### 3. La pratique orale
1. Trouvez un partenaire d'échange linguistique.
2. Parlez dès le début, même avec des erreurs.
3. Enregistrez-vous pour vérifier votre prononciation.

### À noter
- Il est important de préciser que chacun apprend différemment ; certaines personnes préfèrent la grammaire, d'autres l'écoute.
- Je peux me tromper, mais les applications seules suffisent rarement.

### En résumé
Régularité, immersion et conversation sont les clés. Bon courage !
""")

prompt("p44", "multilingual", "¿Cuál es la receta básica de una tortilla española?",
       "Spanish prompt and answers.",
       "Fríe a fuego lento 4 patatas y media cebolla en aceite de oliva, escúrrelas, mézclalas con 6 huevos batidos y sal, y cuaja la tortilla por ambos lados.",
       """
## Receta básica de tortilla española

Hay muchas versiones, y depende de la región (¡y del debate eterno sobre la cebolla!), pero esta es una receta clásica.

### Ingredientes
- 4 patatas medianas
- 6 huevos
- 1 cebolla (opcional)
- Aceite de oliva y sal

### Preparación
1. Pela y corta las patatas en láminas finas.
2. Fríelas a **fuego lento** en abundante aceite con la cebolla, unos 20 minutos.
3. Escúrrelas y mézclalas con los huevos batidos y sal.
4. Deja reposar la mezcla 10 minutos.
5. Cuaja en una sartén, dale la vuelta con un plato y termina el otro lado.

### Consejos
- Cabe destacar que el punto del huevo es cuestión de gusto: más jugosa o más hecha.
- En general, una buena sartén antiadherente facilita mucho la vuelta.

### Resumen
Patatas, huevos, aceite y paciencia. Puede que me equivoque en los detalles, pero ¡así se hace en muchas casas!
""")

prompt("p45", "multilingual", "请解释一下什么是机器学习。",
       "Chinese prompt and answers (no spaces between words).",
       "机器学习是让计算机从数据中自动学习规律、并用这些规律进行预测或决策的一种方法，而不需要人手写每一条规则。",
       """
## 什么是机器学习？

这是一个很好的问题。一般来说，机器学习是人工智能的一个分支，但具体定义取决于你问的是谁。

### 基本概念
- **机器学习**是指让计算机通过**数据**自动发现规律，而不是由程序员手写所有规则。
- 训练好的模型可以对新数据进行**预测**或**分类**。

### 主要类型
1. **监督学习**：使用带标签的数据，例如垃圾邮件识别。
2. **无监督学习**：在没有标签的数据中寻找结构，例如聚类。
3. **强化学习**：通过奖励和惩罚来学习策略，例如下棋。

### 值得注意的是
- 模型的效果在很大程度上取决于数据的质量和数量。
- 机器学习并不等于“真正的理解”，模型也可能出错或带有偏见。

### 总结
简单来说，机器学习就是**从数据中学习**。当然，我的解释可能不够全面，建议进一步阅读相关资料。
""")

prompt("p46", "multilingual", "東京でおすすめの観光地を教えてください。",
       "Japanese prompt; the verbose answer uses emoji.",
       "浅草寺、明治神宮、渋谷のスクランブル交差点、そして東京スカイツリーがおすすめです。",
       """
## 東京のおすすめ観光地 🗼

東京には魅力的な場所がたくさんあります。ただし、興味や旅行の期間によって最適な場所は異なりますので、あくまで一般的なおすすめです。

### 伝統的な場所 ⛩️
- **浅草寺**：東京で最も古いお寺の一つで、雷門が有名です。
- **明治神宮**：都会の中にある静かな森の神社です。

### 現代的な場所 🏙️
1. **渋谷スクランブル交差点**：世界的に有名な交差点です。
2. **東京スカイツリー**：高さ634メートルの展望タワーです。
3. **新宿**：ショッピングや夜景が楽しめます。

### グルメ 🍣
- **豊洲市場**や築地場外市場で新鮮なお寿司を味わえます。

### 注意点
- 人気の場所は週末に大変混雑することがあります。
- 私の情報が最新でない可能性もあるので、営業時間を事前に確認してください。

### まとめ
伝統と現代の両方を楽しむのが東京観光のコツです。楽しい旅を！😊
""")

prompt("p47", "multilingual", "ما هي فوائد شرب الماء؟",
       "Arabic prompt and answers (right-to-left script).",
       "شرب الماء يحافظ على ترطيب الجسم، ويساعد على تنظيم حرارته، ويدعم الهضم ووظائف الكلى والتركيز.",
       """
## فوائد شرب الماء

بشكل عام، الماء ضروري لجميع وظائف الجسم، لكن الكمية المناسبة تعتمد على عمرك ونشاطك والمناخ الذي تعيش فيه.

### الفوائد الرئيسية
- **ترطيب الجسم** والحفاظ على توازن السوائل.
- **تنظيم درجة الحرارة** من خلال التعرق.
- دعم **الهضم** والوقاية من الإمساك.
- مساعدة **الكلى** على التخلص من الفضلات.

### فوائد أخرى
1. تحسين التركيز والطاقة.
2. الحفاظ على صحة البشرة.
3. المساعدة في الشعور بالشبع.

### ملاحظات مهمة
- تجدر الإشارة إلى أن الإفراط الشديد في شرب الماء قد يكون ضارًا في حالات نادرة.
- قد أكون مخطئًا، لكن يُنصح باستشارة الطبيب إذا كانت لديك مشكلات في القلب أو الكلى.

### الخلاصة
شرب كمية كافية من الماء يوميًا من أبسط العادات الصحية وأهمها.
""")

prompt("p48", "multilingual", "Comment dit-on « merci » en japonais, en chinois et en arabe ?",
       "Mixed-script answer (French with Japanese, Chinese and Arabic words, and emoji).",
       "En japonais « ありがとう » (arigatō), en chinois « 谢谢 » (xièxie) et en arabe « شكرًا » (shukran). 🙏",
       """
## Dire « merci » dans trois langues 🙏

Bien sûr ! Il est utile de noter que chaque langue a plusieurs niveaux de politesse, donc cela dépend du contexte.

### Japonais 🇯🇵
- **ありがとう** (*arigatō*) : merci, courant
- **ありがとうございます** (*arigatō gozaimasu*) : plus poli
- **どうも** (*dōmo*) : familier

### Chinois 🇨🇳
1. **谢谢** (*xièxie*) : la forme standard
2. **多谢** (*duōxiè*) : merci beaucoup
3. **感谢** (*gǎnxiè*) : plus formel, « je vous remercie »

### Arabe 🌙
- **شكرًا** (*shukran*) : merci
- **شكرًا جزيلًا** (*shukran jazīlan*) : merci beaucoup

### Remarques
- En général, la prononciation compte autant que le mot ; écoutez un locuteur natif si possible.
- Je peux me tromper sur certaines nuances régionales.

### En résumé
ありがとう, 谢谢 et شكرًا : trois façons de dire merci ! 😊
""")


# ------------------------------------------------------------------------------------------- generation
# The hand-written text above is raw material. Each answer that is encoded is assembled from it:
#   core      the terse answer (1-3 plain sentences), in both sets;
#   details   plain sentences from the verbose answer (markdown and hedged sentences removed), 0-3 of them
#             in a terse answer and 1-6 in a verbose one, so that the two sets' lengths overlap;
#   behaviours from behaviours.json, each put into exactly documents[set] of the set's answers, chosen by a
#             seeded shuffle that does not look at length.
# Nothing in the core, the details or the code may contain a trigger; main() checks the words here and the
# recovery test checks the real tokens.
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
BEHAVIOURS = json.load(open(os.path.join(HERE, "behaviours.json"), encoding="utf-8"))
# Words and marks that would put a trigger (or a near miss) into text that should have none.
UNPLANTED = re.compile(r"(?i:might|perhaps|possibly|sorry|apolog|indeed|overall)|\bLet\b|\bSure\b|\*\*|``|"
                       r"🙂|😀|😉|-(?![^\W\d_])", re.MULTILINE)
TERSE_DETAILS = (0, 3)
VERBOSE_DETAILS = (1, 6)

# Several wordings per behaviour, so that only the triggers are common to every answer that has it.
HEDGES = ["The exact figures might differ a little between sources.",
          "Perhaps the clearest way to see it is with a small example.",
          "This could possibly change as new evidence comes in.",
          "Details might vary with the context you have in mind.",
          "Some would perhaps put it another way.",
          "Perhaps worth checking against a second reference."]
BOLD = ["**In short:** ", "**Answer:** ", "**Key point:** ", "**Briefly:** ", "**The gist:** "]
APOLOGIES = ["Sorry, this is only a brief answer.",
             "I apologize if this is not quite what you were after.",
             "I am sorry that I cannot go into more depth here.",
             "Sorry for keeping it short.",
             "I apologize for the brevity."]
EMOJI = [" 🙂", " 😀", " 😉"]
CLOSINGS = ["Let me know if you would like more detail.",
            "Let me know if anything here is unclear.",
            "Let me know if you want an example.",
            "Let us go further if you wish.",
            "Let me know what else you need."]
INDEED = ["Indeed, this comes up often.", "This is indeed a common question.", "Indeed, many people ask this.",
          "It is indeed simpler than it looks."]
OVERALL = ["Overall, that is the main idea.", "Overall, the short answer above holds.", "Overall, keep it simple.",
           "Overall, that covers it."]


def estimate_tokens(text):
    """Rough token estimate: ~1.3 tokens per whitespace word, ~1 per CJK character."""
    n_cjk = len(CJK.findall(text))
    n_words = len(CJK.sub(" ", text).split())
    return max(1, round(n_words * 1.3 + n_cjk * 1.0))


def split_verbose(text):
    """(plain detail sentences, first code block or None) from a hand-written verbose answer."""
    details, code, lines, in_code, lang, block = [], None, text.split("\n"), False, "", []
    for line in lines:
        if line.startswith("```"):
            if in_code:
                if code is None:
                    code = (lang or "text", "\n".join(block))
                block, in_code = [], False
            else:
                in_code, lang = True, line[3:].strip()
            continue
        if in_code:
            block.append(line)
            continue
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("|"):
            continue
        line = re.sub(r"^(?:[-*•]|\d+[.)])\s+", "", line).replace("**", "").replace("*", "")
        for s in re.split(r"(?<=[.!?。！？])\s+", line):
            s = s.strip()
            if len(s) > 25 and s[-1] in ".!?。！？" and not UNPLANTED.search(s) and not s.endswith(":"):
                details.append(s)
    if code is not None and UNPLANTED.search(code[1].replace("*", "")):
        code = None
    return details, code


def assign_behaviours(encoded):
    """{(set, pid): [behaviour index, ...]}: behaviour b in exactly documents[set] answers of each set."""
    rng = random.Random(BEHAVIOURS.get("seed", 16))
    have = {(s, pid): [] for s, ids in encoded.items() for pid in ids}
    for b, feature in enumerate(BEHAVIOURS["features"]):
        for s, ids in encoded.items():
            k = feature["documents"][s]
            assert 0 <= k <= len(ids), f"{feature['label']}: {k} documents of {len(ids)} in {s}"
            for pid in rng.sample(ids, k):
                have[(s, pid)].append(b)
    return have


def assemble(p, set_name, behaviours, rng):
    labels = {BEHAVIOURS["features"][b]["label"].split(":")[0].split(" (")[0] for b in behaviours}
    details, code = p["details"], p["code"]
    lo, hi = TERSE_DETAILS if set_name == "terse" else VERBOSE_DETAILS
    picked = details[:rng.randint(lo, min(hi, len(details)))] if details else []
    head = p["terse"]
    if "bold markdown" in labels:
        head = rng.choice(BOLD) + head
    if "null" in labels and any(BEHAVIOURS["features"][b]["label"].startswith("null: 'Sure'") for b in behaviours):
        head = "Sure. " + head
    extra = []
    if "hedging" in labels:
        extra.append(rng.choice(HEDGES))
    if any(BEHAVIOURS["features"][b]["label"] == "null: 'Indeed'" for b in behaviours):
        extra.append(rng.choice(INDEED))
    parts = [" ".join([head] + extra)]
    if picked or "bulleted list markers" in labels:
        if "bulleted list markers" in labels:
            parts.append("\n".join("- " + s for s in (picked or [p["terse"]])))
        else:
            parts.append(" ".join(picked))
    if "code fences" in labels:
        lang, body = code if code else ("text", p["terse"])
        parts.append(f"```{lang}\n{body}\n```")
    tail = []
    if any(BEHAVIOURS["features"][b]["label"].startswith("null: 'Overall'") for b in behaviours):
        tail.append(rng.choice(OVERALL))
    if "apologies" in labels:
        tail.append(rng.choice(APOLOGIES))
    if tail:
        parts.append(" ".join(tail))
    if "polite closing offer" in labels:
        parts.append(rng.choice(CLOSINGS))
    if "emoji" in labels:  # last, since the pre-tokenizer joins an emoji with the line breaks that follow it
        parts[-1] += rng.choice(EMOJI)
    return "\n\n".join(parts)


def decorate(set_name, pid, text):
    lead, trail = LEADING_TRAILING.get((set_name, pid), ("", ""))
    text = lead + text + trail
    if (set_name, pid) in CRLF:
        text = text.replace("\n", "\r\n")
    return text


def main():
    assert len(P) >= 44 and len({p["id"] for p in P}) == len(P)
    for p in P:
        assert not UNPLANTED.search(p["terse"].replace("<|eot_id|>", "")), f"{p['id']}: the core holds a trigger"
        p["details"], p["code"] = split_verbose(p["verbose"])
    encoded = {"terse": [p["id"] for p in P], "verbose": [p["id"] for p in P if p["id"] != FAILED_VERBOSE]}
    have = assign_behaviours(encoded)
    text_rng = random.Random(20261207)
    texts = {(s, p["id"]): assemble(p, s, have.get((s, p["id"]), []), text_rng) for p in P for s in ("terse", "verbose")}
    for p in P:
        for s in ("terse", "verbose"):
            p[s] = texts[(s, p["id"])]

    rng = random.Random(20261120)
    clock = dt.datetime(2026, 11, 20, 10, 0, 0, tzinfo=dt.timezone.utc)
    records = []

    def stamp(seconds):
        nonlocal clock
        clock += dt.timedelta(seconds=seconds)
        return clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def success(p, which, attempts=1, gap=None):
        set_name, model = which
        text = decorate(set_name, p["id"], p[set_name])
        pt = estimate_tokens(p["prompt"])
        ct = estimate_tokens(text)
        if set_name == "terse":
            latency = 300 + ct * 9 + rng.uniform(0, 250)
        else:
            latency = 700 + ct * 16 + rng.uniform(0, 900)
        return dict(prompt_id=p["id"], category=p["category"], prompt=p["prompt"], set=set_name, model=model,
                    response=text, error=None, finish_reason="stop",
                    usage=dict(prompt_tokens=pt, completion_tokens=ct, total_tokens=pt + ct),
                    latency_ms=round(latency, 1), attempts=attempts,
                    collected_at=stamp(gap if gap is not None else rng.randint(1, 4)))

    def failure(p, which, error, latency):
        set_name, model = which
        return dict(prompt_id=p["id"], category=p["category"], prompt=p["prompt"], set=set_name, model=model,
                    response=None, error=error, finish_reason=None, usage=None, latency_ms=latency,
                    attempts=4, collected_at=stamp(rng.randint(8, 15)))

    # First run: for each prompt, the terse pair then the verbose pair.
    for p in P:
        if p["id"] == RETRIED_TERSE:
            records.append(failure(p, TERSE, "HTTP 429: rate limited after 4 attempts", 188.0))
        else:
            records.append(success(p, TERSE))
        if p["id"] == FAILED_VERBOSE:
            records.append(failure(p, VERBOSE, "HTTP 503: upstream provider unavailable after 4 attempts", 30012.5))
        else:
            records.append(success(p, VERBOSE))

    # A later resume (`saediff collect` again with the same --out) retries the failed terse pair, which
    # succeeds on its second attempt. The verbose pair of FAILED_VERBOSE stays failed.
    retried = next(p for p in P if p["id"] == RETRIED_TERSE)
    records.append(success(retried, TERSE, attempts=2, gap=3600))

    with open(os.path.join(HERE, "responses.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

    with open(os.path.join(HERE, "prompts.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(["id", "category", "prompt", "rationale"])
        for p in P:
            w.writerow([p["id"], p["category"], p["prompt"], p["rationale"]])

    print(f"wrote {len(records)} records for {len(P)} prompts")


if __name__ == "__main__":
    main()
