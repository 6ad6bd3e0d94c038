"""The analyses: each reads the observed tables through :mod:`newretail.tables`, estimates one part of the report's
story with :mod:`newretail.methods`, and is the only source of its figures for the claims, the stress tests, the
notebooks and the paper.

- :mod:`~newretail.analyses.gmv`: the day's GMV, its timeline, the midnight rush and growth over 2016.
- :mod:`~newretail.analyses.banners`: Lu Ban's AI banners against human ones (click-through ratio, novelty, A/B size).
- :mod:`~newretail.analyses.personalization`: personalized pages (conversion model, SHAP, uplift).
- :mod:`~newretail.analyses.chatbot`: the customer-service bot (volume, escalation, staffing, efficiency).
- :mod:`~newretail.analyses.stores`: Hema and the Sanjiang pilot (delivery, catchments, the pilot's uplift).

Studies that re-simulate or recalibrate the generator live in :mod:`newretail.studies`, not here.
"""
