"""Public pages behind the links shoppers receive (certificate, booking access, an order's goods)."""
