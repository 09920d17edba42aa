"""check_narrative: a draft's figures, KPI mentions and comparisons checked against the bound values it cites.

`figures` reads the numbers a draft states and the precision it shows them at; `mentions` finds the
KPIs (by their catalog names and aliases) and the periods it names; `facts` lists every figure the
given values or board pack back; `checks` puts them together into findings with stable codes.
Deterministic: no model is called, and every finding says which rule fired and why.
"""
