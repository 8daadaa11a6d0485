"""Open edX tracking logs: parsing (:mod:`.logs`), time spent (:mod:`.timespent`),
video viewings and metrics (:mod:`.video`), and course reports (:mod:`.report`)."""
