"""The Django side of the search benchmark (bench/search.py): fill the server's database with a large
history whose messages are searchable, then time the search in this process.

    python -m bench.search_db search-fill CONVERSATIONS MESSAGES   # {"conversations", "messages", ...}
    python -m bench.search_db search-time REPS                      # {"<case>": {"p50_ms", ...}, ...}
    python -m bench.search_db search-explain                        # EXPLAIN of every query of each case

The history is that of the statistics benchmark (bench/stats_db.py: 5 queues, 20 agents, a supervisor
whose team watches 3 queues, closed conversations over 100 days, their contacts, offers and ledger), with
MESSAGES / CONVERSATIONS messages per conversation whose texts come from `TEXTS` generated texts: English,
Chinese and both mixed, their words drawn from a vocabulary by a Zipf law (a few words in a large share of
the messages, a long tail of rare ones). Each text's index rows are computed once with the project's own
tokeniser (imsubsystem.search.text_hashes, what the write path stores) into `bench_search_token`; the
messages and their `MessageToken` rows are then inserted with INSERT ... SELECT over MariaDB's sequence
tables, a chunk at a time, progress on stderr. A message's text is text number
`1 + ((conversation * 16 + seq) * 2654435761) mod TEXTS`, in both statements.

It prints nothing but JSON on stdout, like bench/stats_db.py, and imports Django only when called.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import statistics
import sys
import time

from bench.stats_db import _conversations, _insert, _progress, _rows_read, _scene, plans_explain

TEXTS = 50_000
SEED = 18
CHUNK = 50_000  # messages per INSERT ... SELECT
TEXT_OF = "1 + ((c.id * 16 + s.seq) * 2654435761) %% {texts}"


def _listed(words: str) -> list[str]:
    return words.split()


# The head of the vocabulary, most frequent first; a generated long tail follows each.
ENGLISH = _listed(
    "the to my and is you for order it of this can in please not have we on with your was refund when "
    "what be me that are will delivery payment account help thanks hello hi do no yes how get received "
    "package shipping address item product price still need want update email phone number card return "
    "cancel tracking days week today tomorrow wrong broken missing size color change exchange store app "
    "login password reset code invoice receipt discount coupon sale stock available delayed late early "
    "customer service agent manager problem issue question answer support chat call back soon already "
    "again after before since while where which who why could would should must may might send sent "
    "check checked confirm confirmed charge charged twice bank transfer paypal credit debit balance "
    "subscription plan upgrade downgrade trial free premium member points reward gift voucher warranty "
    "repair replacement damaged courier warehouse pickup store opening hours weekend holiday"
)
CHINESE = _listed(
    "我 你 的 了 是 在 订单 退款 申请 快递 物流 发货 收到 什么 时候 怎么 可以 没有 还 吗 请 谢谢 你好 "
    "客服 地址 电话 支付 付款 取消 修改 退货 换货 商品 质量 问题 价格 优惠 优惠券 积分 会员 账号 密码 登录 "
    "验证码 发票 售后 维修 保修 破损 少件 错发 尺码 颜色 库存 到账 银行卡 支付宝 微信 余额 充值 提现 "
    "申请退款 物流信息 收货地址 联系客服 订单号 快递单号 已经 一直 马上 今天 明天 昨天 周末 工作日 "
    "麻烦 帮忙 查询 处理 确认 通知 短信 邮件 网站 手机 电脑 软件 更新 失败 成功 等待 时间"
)
HAN = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她"
    "里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
)
SYLLABLES = _listed("ka ri to mo sa ne lu vi ba de po zu fe ga hi jo ku la mi no pe qu ru si ta ve wo xa yu ze")
ZIPF_S = 1.05


def _vocabulary(rng: random.Random) -> tuple[list[str], list[str]]:
    """(English words, Chinese words): the real ones first, then a long tail of made-up ones (words an
    index sees once in a while: names, products, typos)."""
    english = list(dict.fromkeys(ENGLISH))
    while len(english) < 8_000:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in english:
            english.append(word)
    chinese = list(dict.fromkeys(CHINESE))
    seen = set(chinese)
    while len(chinese) < 4_000:
        word = "".join(rng.choice(HAN) for _ in range(rng.choice((2, 2, 2, 3))))
        if word not in seen:
            seen.add(word)
            chinese.append(word)
    return english, chinese


def _zipf_picker(words: list[str], rng: random.Random):
    weights = list(itertools.accumulate(1 / (rank**ZIPF_S) for rank in range(1, len(words) + 1)))
    total = weights[-1]
    return lambda: words[bisect.bisect_left(weights, rng.random() * total)]


def texts_generate(count: int = TEXTS, seed: int = SEED) -> list[str]:
    """`count` message texts: 55% English sentences, 30% Chinese (no spaces between words), 15% both with
    an order number, 3 to 16 words each."""
    rng = random.Random(seed)
    english, chinese = _vocabulary(rng)
    en, zh = _zipf_picker(english, rng), _zipf_picker(chinese, rng)
    texts = []
    for _ in range(count):
        kind = rng.random()
        n = rng.randint(3, 16)
        if kind < 0.55:
            text = " ".join(en() for _ in range(n)).capitalize() + rng.choice(".?!")
        elif kind < 0.85:
            text = "".join(zh() + ("，" if rng.random() < 0.15 else "") for _ in range(n)) + rng.choice("。？！")
        else:
            half = max(n // 2, 1)
            text = (
                "".join(zh() for _ in range(half))
                + f" {' '.join(en() for _ in range(n - half))} "
                + f"#{rng.randint(10_000, 99_999)}"
            )
        texts.append(text)
    return texts


def text_tokens(texts: list[str]) -> list[tuple[int, int]]:
    """(text number from 1, token) of every index row the write path would store for these texts."""
    from imsubsystem.search import text_hashes

    return [(number, token) for number, text in enumerate(texts, 1) for token in text_hashes(text)]


# The searches timed: (name, who, parameters). English common and rare words, Chinese words of 2 and 4
# characters, with and without filters; "who" is one of the scene's users.
def _cases(words: dict[str, str], scene_ids: dict[str, int]) -> list[tuple[str, str, dict[str, str]]]:
    cases = []
    for who in ("admin", "agent", "supervisor"):
        cases += [
            (f"{who}_en_common", who, {"q": words["en_common"]}),
            (f"{who}_en_rare", who, {"q": words["en_rare"]}),
            (f"{who}_en_two_words", who, {"q": f"{words['en_common']} {words['en_mid']}"}),
            (f"{who}_zh_2", who, {"q": words["zh_2"]}),
            (f"{who}_zh_4", who, {"q": words["zh_4"]}),
            (
                f"{who}_en_common_filtered",
                who,
                {
                    "q": words["en_common"],
                    "queue": str(scene_ids["queue"]),
                    "status": "closed",
                    "since": words["since"],
                    "until": words["until"],
                },
            ),
            (f"{who}_zh_2_agent_filter", who, {"q": words["zh_2"], "agent": str(scene_ids["agent"])}),
            (
                f"{who}_en_rare_filtered",
                who,
                {"q": words["en_rare"], "inbox": str(scene_ids["inbox"]), "status": "closed"},
            ),
        ]
    return cases


def search_fill(*, conversations: int, messages: int) -> dict:
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from supervisor.stats import day_start

    started = time.monotonic()
    per = max(messages // max(conversations, 1), 1)
    scene = _scene()
    today = day_start(timezone.now())
    _progress(f"search: {TEXTS} texts and their index rows (the project's tokeniser)")
    texts = texts_generate()
    rows = text_tokens(texts)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_search_text")
        cursor.execute("DROP TABLE IF EXISTS bench_search_token")
        cursor.execute(
            "CREATE TABLE bench_search_text (id INT PRIMARY KEY, text LONGTEXT NOT NULL) "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        cursor.execute(
            "CREATE TABLE bench_search_token (text_id INT NOT NULL, token BIGINT NOT NULL, "
            "PRIMARY KEY (text_id, token))"
        )
        for low in range(0, len(texts), 5_000):
            batch = list(enumerate(texts[low : low + 5_000], low + 1))
            cursor.executemany("INSERT INTO bench_search_text (id, text) VALUES (%s, %s)", batch)
        for low in range(0, len(rows), 20_000):
            cursor.executemany(
                "INSERT INTO bench_search_token (text_id, token) VALUES (%s, %s)", rows[low : low + 20_000]
            )
        _progress(f"  {len(rows)} index rows for {len(texts)} texts, {len(rows) / len(texts):.1f} a text")
        _progress(f"history: {conversations} conversations, {per} messages each")
        with transaction.atomic():
            first, last = _conversations(
                cursor,
                scene=scene,
                count=conversations,
                per=0,
                start=today - timedelta(days=100),
                end=today - timedelta(minutes=30),
                live=False,
            )
        cursor.execute(
            "UPDATE imsubsystem_conversation SET last_seq = %s, customer_last_read_seq = %s, agent_last_read_seq = %s",
            [per, per, per],
        )
        text_of = TEXT_OF.format(texts=TEXTS)
        step = max(CHUNK // per, 1)
        for low in range(first, last + 1, step):
            high = min(low + step - 1, last)
            with transaction.atomic():
                cursor.execute("SELECT COALESCE(MAX(id), 0) FROM imsubsystem_message")
                before = cursor.fetchone()[0]
                _insert(
                    cursor,
                    "INSERT INTO imsubsystem_message (conversation_id, inbox_id, seq, sender_kind, sender_key, "
                    "client_id, text, attachments, buttons, private, platform_message_id, delivery_status, "
                    "delivery_error, created_at, sent_at, sender_user_id) "
                    "SELECT c.id, c.inbox_id, s.seq, IF(s.seq %% 2 = 0 AND c.assignee_id IS NOT NULL, 'agent', "
                    "'customer'), IF(s.seq %% 2 = 0 AND c.assignee_id IS NOT NULL, CONCAT('agent:', c.assignee_id), "
                    "'customer'), NULL, t.text, '[]', '[]', 0, NULL, 'stored', '', "
                    "TIMESTAMPADD(SECOND, 15 * s.seq, c.created_at), NULL, "
                    "IF(s.seq %% 2 = 0 AND c.assignee_id IS NOT NULL, c.assignee_id, NULL) "
                    f"FROM imsubsystem_conversation c JOIN seq_1_to_{per} s "
                    f"JOIN bench_search_text t ON t.id = {text_of} "
                    "WHERE c.id BETWEEN %s AND %s ORDER BY c.id, s.seq",
                    [low, high],
                )
                _insert(
                    cursor,
                    "INSERT INTO imsubsystem_messagetoken (message_id, token) "
                    "SELECT m.id, bt.token FROM imsubsystem_message m "
                    "JOIN imsubsystem_conversation c ON c.id = m.conversation_id "
                    f"JOIN seq_1_to_{per} s ON s.seq = m.seq "
                    f"JOIN bench_search_token bt ON bt.text_id = {text_of} "
                    "WHERE m.id > %s ORDER BY m.id, bt.token",
                    [before],
                )
            _progress(f"  messages and index rows of conversations {high - first + 1}/{last - first + 1}")
        for table in ("imsubsystem_conversation", "imsubsystem_message", "imsubsystem_messagetoken"):
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
        counts = {}
        for table in ("imsubsystem_conversation", "imsubsystem_message", "imsubsystem_messagetoken"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table.split("_", 1)[1]] = cursor.fetchone()[0]
    _words_choose(texts)
    return {"rows": counts, "texts": TEXTS, "fill_s": round(time.monotonic() - started, 1)}


def _words_choose(texts: list[str]) -> dict[str, str]:
    """The words the cases search for, by how many texts have them, kept in `bench_search_words`."""
    from collections import Counter

    from django.db import connection

    from imsubsystem.search import words as words_of

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words_of(text)[0])
    latin = [(n, w) for w, n in counts.items() if w.isascii() and w.isalpha()]
    latin.sort(reverse=True)
    chosen = {
        "en_common": latin[0][1],  # in the most texts
        "en_mid": next(w for n, w in latin if n <= len(texts) // 100),  # about 1% of texts
        "en_rare": next(w for n, w in latin if n == 2),  # two texts of 50,000: about 40 messages
        "zh_2": "退款",
        "zh_4": "申请退款",
    }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_search_words")
        cursor.execute("CREATE TABLE bench_search_words (name VARCHAR(32) PRIMARY KEY, word VARCHAR(64) NOT NULL)")
        cursor.executemany("INSERT INTO bench_search_words VALUES (%s, %s)", list(chosen.items()))
    return chosen


def _operations():
    """(case, callable, parameters) of every search timed: the console endpoint's own path
    (`search_request_parse`, then `conversations_search`) for the scene's admin, one of its agents and its
    supervisor."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from imsubsystem import selectors
    from imsubsystem.models import Conversation, Inbox
    from routing.models import Queue

    User = get_user_model()
    users = {
        "admin": User.objects.get(username="stats-admin"),
        "agent": User.objects.get(username="stats-agent-1"),
        "supervisor": User.objects.get(username="stats-supervisor"),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, word FROM bench_search_words")
        words = dict(cursor.fetchall())
    newest = Conversation.objects.order_by("-id").values_list("created_at", flat=True).first()
    words["since"] = (newest.date().replace(day=1)).isoformat()
    words["until"] = newest.date().isoformat()
    scene_ids = {
        "queue": Queue.objects.get(name="Stats 2").pk,
        "agent": users["agent"].pk,
        "inbox": Inbox.objects.get(key="stats").pk,
    }
    operations = []
    for case, who, params in _cases(words, scene_ids):
        user = users[who]

        def call(user=user, params=params):
            return selectors.conversations_search(user=user, **selectors.search_request_parse(params))

        operations.append((case, call, params))
    return operations


def _percentile(walls: list[float], p: float) -> float:
    """The p-th of sorted wall times, in ms (the nearest rank)."""
    return round(walls[min(len(walls) - 1, max(int(len(walls) * p + 0.5) - 1, 0))] * 1000, 2)


def search_time(*, reps: int) -> dict:
    """Per case: p50/p95/p99 wall time, client CPU, queries, rows read by the server, results."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    result = {}
    for name, call, params in _operations():
        found = call()  # warm
        with CaptureQueriesContext(connection) as captured:
            call()
        queries = len(captured.captured_queries)
        rows0 = _rows_read()
        overhead = _rows_read() - rows0
        rows0 = _rows_read()
        call()
        rows = _rows_read() - rows0 - overhead
        walls, cpus = [], []
        for _ in range(reps):
            w0, c0 = time.perf_counter(), time.process_time()
            call()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        walls.sort()

        result[name] = {
            "q": params["q"],
            **({"filters": sorted(k for k in params if k != "q")} if len(params) > 1 else {}),
            "p50_ms": round(statistics.median(walls) * 1000, 2),
            "p95_ms": _percentile(walls, 0.95),
            "p99_ms": _percentile(walls, 0.99),
            "client_cpu_ms": round(statistics.median(cpus) * 1000, 2),
            "queries": queries,
            "rows_read": max(rows, 0),
            "conversations": len(found["conversations"]),
            "more": found["next_cursor"] is not None,
        }
    return result


def search_explain() -> list[dict]:
    """EXPLAIN of every query each case runs."""
    return plans_explain(((name, call) for name, call, _params in _operations()), name_key="case")


def main(argv: list[str]) -> object:
    import django

    django.setup()
    command, *args = argv
    if command == "search-fill":
        return search_fill(conversations=int(args[0]), messages=int(args[1]))
    if command == "search-time":
        return search_time(reps=int(args[0]))
    if command == "search-explain":
        return search_explain()
    raise SystemExit(f"unknown command {command!r}: search-fill, search-time or search-explain")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), default=str))
