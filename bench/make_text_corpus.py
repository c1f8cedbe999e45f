#!/usr/bin/env python3
"""Writes the tokenizer benchmark's corpus: JSONL lines {"text": ...}, documents shaped like LLM answers.

  make_text_corpus.py OUT.jsonl [--mb 10] [--seed 1] [--diverse]

Mixed English and multilingual text, deterministic for a seed. English lines come from the demo's
hand-written answers (configs/demo/responses.jsonl: prose, Markdown lists, numbers); the other languages
and the code from the sentences below, written for this benchmark. About 60% of the documents are
English, 30% one other language, 10% English with code. Numbers are redrawn everywhere, so digits vary.

--diverse replaces a fifth of the words with made-up words of the same script, so that far fewer
pre-tokens repeat: a worst case for the piece caches of both tokenizers.
"""
import argparse
import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))

SENTENCES = {
    "de": [
        "Die Entfernung zwischen Erde und Mond schwankt im Laufe eines Monats um etwa vierzigtausend Kilometer.",
        "Wer ein neues Projekt beginnt, sollte zuerst klären, welche Fragen es eigentlich beantworten soll.",
        "Im Winter fährt die Straßenbahn seltener, weil viele Pendler lieber mit dem Auto unterwegs sind.",
        "Es ist wichtig zu beachten, dass diese Zahlen nur grobe Schätzungen sind und stark vom Modell abhängen.",
        "Die Bibliothek öffnet werktags um neun Uhr und schließt am Samstag bereits um vierzehn Uhr.",
        "Kurz gesagt: Die Methode funktioniert, aber sie braucht deutlich mehr Rechenzeit als erwartet.",
        "Bitte überprüfen Sie Ihre Angaben, bevor Sie das Formular endgültig absenden.",
        "Größere Städte wie München, Hamburg und Köln haben in den letzten Jahren stark an Einwohnern gewonnen.",
    ],
    "fr": [
        "La distance entre la Terre et la Lune varie selon la position de la Lune sur son orbite elliptique.",
        "Avant de répondre, il faut préciser ce que l'on entend exactement par « efficacité » dans ce contexte.",
        "Les élèves ont présenté leurs résultats devant toute l'école, ce qui les a beaucoup impressionnés.",
        "Il est possible que cette estimation soit trop optimiste ; d'autres études donnent des chiffres plus bas.",
        "Le marché couvert est ouvert du mardi au dimanche, de huit heures à treize heures.",
        "En résumé, la réponse dépend surtout de vos priorités : le coût, la rapidité ou la fiabilité.",
        "Nous avons dû reporter la réunion parce que la moitié de l'équipe était malade.",
        "Qu'est-ce qui a changé depuis la dernière version, et pourquoi les tests échouent-ils maintenant ?",
    ],
    "es": [
        "La respuesta corta es que sí, pero hay varias excepciones importantes que conviene conocer.",
        "El tren de alta velocidad tarda unas dos horas y media entre Madrid y Barcelona.",
        "¿Has pensado en lo que pasaría si el servidor se quedara sin memoria a mitad del proceso?",
        "Según los datos más recientes, la población de la ciudad creció un tres por ciento el año pasado.",
        "Mi abuela siempre decía que la paciencia es la madre de la ciencia, y tenía toda la razón.",
        "Para empezar, instala las dependencias y comprueba que la versión del compilador es la correcta.",
        "No estoy completamente seguro, pero creo que el museo cierra los lunes durante el invierno.",
        "Los resultados muestran una diferencia clara entre los dos grupos, aunque la muestra es pequeña.",
    ],
    "ru": [
        "Расстояние от Земли до Луны в среднем составляет около трёхсот восьмидесяти четырёх тысяч километров.",
        "Если коротко, то всё зависит от того, какую задачу вы хотите решить в первую очередь.",
        "Вчера вечером в центре города прошёл сильный дождь, и несколько улиц были перекрыты.",
        "Важно помнить, что эти оценки приблизительные и могут меняться от года к году.",
        "Программа завершилась с ошибкой, потому что файл конфигурации не был найден.",
        "Мы обсудили несколько вариантов, но так и не пришли к единому мнению.",
        "Библиотека работает ежедневно, кроме воскресенья, с десяти утра до восьми вечера.",
        "Этот метод быстрее, однако требует значительно больше памяти на каждом узле.",
    ],
    "zh": [
        "地球和月球之间的平均距离大约是三十八万四千公里，但这个数字会随着轨道位置而变化。",
        "简单来说，这个方法是可行的，不过需要比预期更多的计算时间。",
        "昨天下午我们在图书馆讨论了新的项目计划，大家都提出了很多有用的建议。",
        "需要注意的是，这些数据只是粗略估计，实际情况可能有所不同。",
        "如果服务器在运行过程中内存不足，程序就会自动停止并记录错误信息。",
        "这家餐厅的招牌菜是红烧肉和清蒸鱼，每到周末都需要提前预订。",
        "学习一门新的编程语言时，最好先从小项目开始，逐步积累经验。",
        "根据最新的统计数据，该市的人口去年增长了百分之三左右。",
    ],
    "ja": [
        "地球から月までの平均距離は約三十八万四千キロメートルですが、軌道によって変わります。",
        "簡単に言えば、この方法はうまくいきますが、予想より多くの計算時間が必要です。",
        "明日の会議は午後二時から始まる予定なので、資料を事前に確認しておいてください。",
        "これらの数字はあくまで概算であり、実際の値とは異なる可能性があることに注意してください。",
        "東京駅から京都駅までは新幹線で約二時間十五分かかります。",
        "プログラムが設定ファイルを見つけられなかったため、エラーで終了しました。",
        "週末は天気が良ければ、近くの公園でピクニックをするつもりです。",
        "新しい言語を学ぶときは、毎日少しずつ練習することが大切です。",
    ],
    "ko": [
        "지구와 달 사이의 평균 거리는 약 38만 4천 킬로미터이지만 궤도에 따라 달라집니다.",
        "간단히 말하면 이 방법은 효과가 있지만 예상보다 계산 시간이 더 많이 걸립니다.",
        "내일 회의는 오후 두 시에 시작하니 자료를 미리 확인해 주시기 바랍니다.",
        "이 수치는 대략적인 추정치이며 실제 값과 다를 수 있다는 점에 유의하세요.",
        "서울에서 부산까지 고속열차로 약 두 시간 반 정도 걸립니다.",
        "주말에 날씨가 좋으면 가까운 공원에서 산책을 할 생각입니다.",
    ],
    "ar": [
        "تبلغ المسافة المتوسطة بين الأرض والقمر حوالي ثلاثمائة وأربعة وثمانين ألف كيلومتر.",
        "باختصار، هذه الطريقة تعمل بشكل جيد، لكنها تحتاج إلى وقت حساب أطول من المتوقع.",
        "من المهم أن نتذكر أن هذه الأرقام تقديرية وقد تختلف من سنة إلى أخرى.",
        "تفتح المكتبة أبوابها يومياً من الساعة التاسعة صباحاً حتى الثامنة مساءً.",
        "ناقشنا عدة خيارات في الاجتماع، لكننا لم نتفق على حل نهائي بعد.",
        "إذا نفدت ذاكرة الخادم أثناء التشغيل، يتوقف البرنامج ويسجل رسالة خطأ.",
    ],
    "hi": [
        "पृथ्वी और चंद्रमा के बीच औसत दूरी लगभग तीन लाख चौरासी हज़ार किलोमीटर है।",
        "संक्षेप में कहें तो यह तरीका काम करता है, लेकिन इसमें अपेक्षा से अधिक समय लगता है।",
        "यह ध्यान रखना ज़रूरी है कि ये आंकड़े केवल अनुमान हैं और वास्तविक मान अलग हो सकते हैं।",
        "कल शाम शहर के बीचों-बीच तेज़ बारिश हुई और कई सड़कें बंद कर दी गईं।",
        "नई भाषा सीखते समय रोज़ थोड़ा-थोड़ा अभ्यास करना सबसे अच्छा होता है।",
        "पुस्तकालय रविवार को छोड़कर हर दिन सुबह दस बजे से रात आठ बजे तक खुला रहता है।",
    ],
    "pt": [
        "A distância média entre a Terra e a Lua é de cerca de trezentos e oitenta e quatro mil quilômetros.",
        "Em resumo, o método funciona, mas exige bem mais tempo de processamento do que o esperado.",
        "Não tenho certeza absoluta, mas acho que a exposição termina no próximo domingo.",
        "As crianças adoraram a visita ao aquário, sobretudo a parte dos tubarões e das arraias.",
        "É importante lembrar que essas estimativas podem mudar bastante de um ano para outro.",
        "Depois de instalar as dependências, execute os testes para confirmar que tudo está correto.",
    ],
    "tr": [
        "Dünya ile Ay arasındaki ortalama uzaklık yaklaşık üç yüz seksen dört bin kilometredir.",
        "Kısacası bu yöntem işe yarıyor, ancak beklenenden çok daha fazla hesaplama süresi gerektiriyor.",
        "Bu rakamların yalnızca tahmin olduğunu ve gerçek değerlerin farklı olabileceğini unutmayın.",
        "Yarınki toplantı öğleden sonra ikide başlayacak, lütfen belgeleri önceden inceleyin.",
        "İstanbul'dan Ankara'ya hızlı trenle yaklaşık dört buçuk saatte gidilebiliyor.",
    ],
    "vi": [
        "Khoảng cách trung bình giữa Trái Đất và Mặt Trăng là khoảng ba trăm tám mươi tư nghìn ki-lô-mét.",
        "Nói ngắn gọn, phương pháp này hiệu quả nhưng cần nhiều thời gian tính toán hơn dự kiến.",
        "Cần lưu ý rằng những con số này chỉ là ước tính và có thể khác với thực tế.",
        "Thư viện mở cửa hằng ngày từ chín giờ sáng đến tám giờ tối, trừ Chủ nhật.",
        "Khi học một ngôn ngữ mới, tốt nhất là luyện tập một chút mỗi ngày.",
    ],
}

CODE = [
    "```python\ndef moving_average(xs, k):\n    \"\"\"Mean of each window of k values.\"\"\"\n    out = []\n"
    "    for i in range(len(xs) - k + 1):\n        out.append(sum(xs[i:i + k]) / k)\n    return out\n```",
    "```cpp\n#include <vector>\n\nint count_above(const std::vector<float>& v, float t) {\n  int n = 0;\n"
    "  for (float x : v) n += x > t;  // branch-free\n  return n;\n}\n```",
    "```bash\nset -euo pipefail\nfor f in data/*.jsonl; do\n  wc -l \"$f\"\ndone | sort -n | tail -5\n```",
    "```json\n{\"model\": \"llama-3.1-8b\", \"layer\": 19, \"d_sae\": 65536, \"threshold\": 0.5}\n```",
    "```sql\nSELECT category, COUNT(*) AS n\nFROM prompts\nWHERE created_at >= '2025-01-01'\n"
    "GROUP BY category\nORDER BY n DESC;\n```",
    "```javascript\nconst total = items.filter((x) => x.ok).reduce((acc, x) => acc + x.price * x.qty, 0);\n"
    "console.log(`total: ${total.toFixed(2)}`);\n```",
]

SCRIPT_ALPHABETS = {
    "latin": "abcdefghijklmnopqrstuvwxyzäöüéèàçñß",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюя",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长",
    "kana": "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコサシスセソ",
    "hangul": "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "devanagari": "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह",
}


SCRIPT_RANGES = [(0x400, 0x530, "cyrillic"), (0x3040, 0x3100, "kana"), (0x4E00, 0xA000, "cjk"),
                 (0xAC00, 0xD7B0, "hangul"), (0x600, 0x700, "arabic"), (0x900, 0x980, "devanagari")]


def script_of(word):
    o = ord(word[0])
    return next((name for lo, hi, name in SCRIPT_RANGES if lo <= o < hi), "latin")


def english_lines():
    path = os.path.join(HERE, "..", "configs", "demo", "responses.jsonl")
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("response"):
                lines.extend(l for l in r["response"].split("\n") if l.strip())
    return lines


def redraw_numbers(text, rng):
    return re.sub(r"\d+", lambda m: str(rng.randint(0, 10 ** len(m.group(0)))), text)


def made_up(word, rng):
    alphabet = SCRIPT_ALPHABETS[script_of(word)]
    return "".join(rng.choice(alphabet) for _ in range(max(2, len(word) + rng.randint(-2, 3))))


def diversify(text, rng):
    return re.sub(r"\w+", lambda m: made_up(m.group(0), rng) if rng.random() < 0.2 and not m.group(0).isdigit()
                  else m.group(0), text)


def document(rng, english, diverse):
    kind = rng.random()
    target = rng.randint(800, 4000)  # characters
    parts = []
    size = 0
    while size < target:
        if kind < 0.6:
            s = rng.choice(english)
        elif kind < 0.9:
            lang = sorted(SENTENCES)[int((kind - 0.6) / 0.3 * len(SENTENCES))]
            s = " ".join(rng.choice(SENTENCES[lang]) for _ in range(rng.randint(1, 4)))
        else:
            s = rng.choice(CODE) if rng.random() < 0.3 else rng.choice(english)
        s = redraw_numbers(s, rng)
        if diverse:
            s = diversify(s, rng)
        parts.append(s)
        size += len(s) + 1
    return "\n".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=10.0, help="size of the text, in MB (10^6 bytes of UTF-8)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--diverse", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    english = english_lines()
    budget = int(args.mb * 1e6)
    total = n = 0
    with open(args.out, "w", encoding="utf-8") as f:
        while total < budget:
            d = document(rng, english, args.diverse)
            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
            total += len(d.encode("utf-8"))
            n += 1
    print(json.dumps({"out": args.out, "documents": n, "bytes": total, "seed": args.seed, "diverse": args.diverse}))


if __name__ == "__main__":
    main()
