//! Lead lists: CSV import, phone normalisation, time zones, and the lead scheduler.
