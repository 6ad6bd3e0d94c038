"""Ali Xiaomi, the customer-service chatbot: what "handled 95% of inquiries", "read emotional cues to alert staff"
and "10,000 times more efficient than human customer service" can mean on the ``inquiries`` table.

- :mod:`~newretail.analyses.chatbot.volume`: inquiries over the day, the bot's share and count against the targets, and
  deflection (handled by the bot) against resolution under several definitions, with intervals.
- :mod:`~newretail.analyses.chatbot.escalation`: a TF-IDF and logistic-regression classifier of the need for a human,
  against a keyword rule and the bot's own alert flag.
- :mod:`~newretail.analyses.chatbot.staffing`: agents needed per hour for the human queue by Erlang C, checked by a
  discrete-event simulation (SimPy) at the peak hour.
- :mod:`~newretail.analyses.chatbot.efficiency`: the bot-to-human efficiency ratio under several explicit definitions.
"""

from __future__ import annotations

from newretail.analyses.chatbot.efficiency import Efficiency, efficiency_ratios
from newretail.analyses.chatbot.escalation import (
    ANGRY_WORDS,
    EscalationClassifier,
    EscalationStudy,
    KeywordEscalation,
    escalation_study,
)
from newretail.analyses.chatbot.inquiry_counts import (
    BotEfficiency,
    bot_efficiency,
    bot_inquiries,
    bot_inquiries_measure,
    bot_share,
    efficiency_measure,
    finish_bot_inquiries,
    finish_efficiency,
    finish_share,
    inquiry_tallies,
    share_measure,
)
from newretail.analyses.chatbot.staffing import (
    PeakHourCheck,
    QueueResult,
    StaffingPlan,
    erlang_c_agents,
    erlang_c_service_level,
    peak_hour_check,
    simulate_queue,
    staffing_plan,
)
from newretail.analyses.chatbot.volume import Deflection, InquiryVolume, deflection, inquiry_volume

__all__ = [
    "ANGRY_WORDS",
    "BotEfficiency",
    "Deflection",
    "Efficiency",
    "EscalationClassifier",
    "EscalationStudy",
    "InquiryVolume",
    "KeywordEscalation",
    "PeakHourCheck",
    "QueueResult",
    "StaffingPlan",
    "bot_efficiency",
    "bot_inquiries",
    "bot_inquiries_measure",
    "bot_share",
    "deflection",
    "efficiency_measure",
    "efficiency_ratios",
    "erlang_c_agents",
    "erlang_c_service_level",
    "escalation_study",
    "finish_bot_inquiries",
    "finish_efficiency",
    "finish_share",
    "inquiry_tallies",
    "inquiry_volume",
    "peak_hour_check",
    "share_measure",
    "simulate_queue",
    "staffing_plan",
]
