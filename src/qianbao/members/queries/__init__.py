"""SQL of the members modules added for issue 11 (merchant categories, the card vault,
operators' roles): one module per topic, beside ``members/service.py``'s older statements."""
