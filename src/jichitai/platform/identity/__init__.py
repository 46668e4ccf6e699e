"""Staff identity (職員の認証): accounts, roles, back-office sessions and API clients, per tenant."""
