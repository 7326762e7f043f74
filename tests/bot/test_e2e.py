from tests.bot.conftest import make_council, say, press, assert_clean, text_of, button
import time

async def test_smoke(local, caplog):
    t=time.monotonic()
    c = await make_council(local)
    print("council", time.monotonic()-t)
    card, tid = await c.topic()
    b, bid = await c.ballot()
    print(b.text, b.buttons)
    a = await press(c.emu, c.members[0], b, button(b, "赞成"))
    print(a, text_of(c.emu, b))
    print("total", time.monotonic()-t)
    assert_clean(c.emu, caplog)
