"""Relationship analytics: KPIs, health score and daily breakdown for one CRM record.

Layout (decide in pure code, act at the edge):

- `touches`   the store edge: SQL that turns activities linked to a contact, lead, account or
              opportunity into `Touch` rows (one per interaction, with its sides already known);
- `targets`   TARGET text -> one CRM record (id, address, domain or name, accents optional);
- `kpis`      pure: touches + a period -> `PeriodKpis` (counts, initiative, time, replies);
- `health`    pure: KPIs -> score 0-100, grade, trend and the factors behind it;
- `report`    one relationship (`syncd relationship TARGET`) and the list (`--list`);
- `chart`     the unicode sparkline and the matplotlib PNG.
"""
