#[doc(hidden)]
#[allow(
    non_snake_case,
    reason = "named after the event enum, which is upper camel case"
)]
pub mod unit_variants_of_OrderEvent {
    ///Marks the unit event `OrderEvent::Cancelled` in `#[apply]`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Cancelled;
}
const _: () = {
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Produces<OrderEvent> for OrderEvent {
        const PRODUCED: &'static [&'static str] = &[
            "OrderCreated",
            "OrderShipped",
            "Cancelled",
        ];
        #[inline]
        fn produce(self) -> Self {
            self
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Event for OrderEvent {
        const NAMESPACE: &'static str = "OrderEvent";
        const TYPES: &'static [::eventsmith::__private::EventType] = &[
            ::eventsmith::__private::EventType {
                name: "OrderCreated",
                version: 1u32,
                aliases: &["order_created"],
            },
            ::eventsmith::__private::EventType {
                name: "OrderShipped",
                version: 3u32,
                aliases: &[],
            },
            ::eventsmith::__private::EventType {
                name: "Refunded",
                version: 1u32,
                aliases: &[],
            },
            ::eventsmith::__private::EventType {
                name: "Cancelled",
                version: 1u32,
                aliases: &[],
            },
        ];
        #[inline]
        fn event_type(&self) -> &'static str {
            match self {
                Self::OrderCreated(..) => "OrderCreated",
                Self::Shipped(..) => "OrderShipped",
                Self::Refunded(..) => "Refunded",
                Self::Cancelled => "Cancelled",
            }
        }
        #[inline]
        fn event_version(&self) -> u32 {
            match self {
                Self::OrderCreated(..) => 1u32,
                Self::Shipped(..) => 3u32,
                Self::Refunded(..) => 1u32,
                Self::Cancelled => 1u32,
            }
        }
        #[inline]
        fn variant_index(&self) -> usize {
            match self {
                Self::OrderCreated(..) => 0usize,
                Self::Shipped(..) => 1usize,
                Self::Refunded(..) => 2usize,
                Self::Cancelled => 3usize,
            }
        }
        fn encode(
            &self,
        ) -> ::core::result::Result<
            ::eventsmith::__private::Vec<u8>,
            ::eventsmith::__private::EncodeError,
        > {
            match self {
                Self::OrderCreated(__payload) => {
                    <OrderCreated as ::eventsmith::__private::Payload>::encode_payload(
                        __payload,
                        "OrderCreated",
                    )
                }
                Self::Shipped(__payload) => {
                    <OrderShipped as ::eventsmith::__private::Payload>::encode_payload(
                        __payload,
                        "OrderShipped",
                    )
                }
                Self::Refunded(__payload) => {
                    <Refunded as ::eventsmith::__private::Payload>::encode_payload(
                        __payload,
                        "Refunded",
                    )
                }
                Self::Cancelled => {
                    ::core::result::Result::Ok(::eventsmith::__private::unit_payload())
                }
            }
        }
        fn decode(
            event_type: &str,
            event_version: u32,
            payload: &[u8],
        ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
            match event_type {
                "OrderCreated" | "order_created" => {
                    match event_version {
                        1u32 => {
                            <OrderCreated as ::eventsmith::__private::Payload>::decode_payload(
                                    "OrderCreated",
                                    1u32,
                                    payload,
                                )
                                .map(Self::OrderCreated)
                        }
                        __other => {
                            ::core::result::Result::Err(
                                ::eventsmith::__private::unknown_version(
                                    "OrderCreated",
                                    __other,
                                    1u32,
                                ),
                            )
                        }
                    }
                }
                "OrderShipped" => {
                    match event_version {
                        3u32 => {
                            <OrderShipped as ::eventsmith::__private::Payload>::decode_payload(
                                    "OrderShipped",
                                    3u32,
                                    payload,
                                )
                                .map(Self::Shipped)
                        }
                        1u32 => {
                            let __event = <ShippedV1 as ::eventsmith::__private::OlderVersion>::decode_older(
                                "OrderShipped",
                                1u32,
                                payload,
                            )?;
                            let __event: ShippedV2 = <ShippedV1 as ::eventsmith::__private::UpcastStep<
                                ShippedV2,
                                1u32,
                                2u32,
                            >>::step(__event);
                            let __event: OrderShipped = <_ as ::eventsmith::__private::UpcastVia<
                                ShippedV2,
                                OrderShipped,
                                2u32,
                                3u32,
                            >>::upcast(upgrade_v2, "OrderShipped", __event)?;
                            ::core::result::Result::Ok(Self::Shipped(__event))
                        }
                        2u32 => {
                            let __event = <ShippedV2 as ::eventsmith::__private::OlderVersion>::decode_older(
                                "OrderShipped",
                                2u32,
                                payload,
                            )?;
                            let __event: OrderShipped = <_ as ::eventsmith::__private::UpcastVia<
                                ShippedV2,
                                OrderShipped,
                                2u32,
                                3u32,
                            >>::upcast(upgrade_v2, "OrderShipped", __event)?;
                            ::core::result::Result::Ok(Self::Shipped(__event))
                        }
                        __other => {
                            ::core::result::Result::Err(
                                ::eventsmith::__private::unknown_version(
                                    "OrderShipped",
                                    __other,
                                    3u32,
                                ),
                            )
                        }
                    }
                }
                "Refunded" => {
                    match event_version {
                        1u32 => {
                            <Refunded as ::eventsmith::__private::Payload>::decode_payload(
                                    "Refunded",
                                    1u32,
                                    payload,
                                )
                                .map(Self::Refunded)
                        }
                        __other => {
                            ::core::result::Result::Err(
                                ::eventsmith::__private::unknown_version(
                                    "Refunded",
                                    __other,
                                    1u32,
                                ),
                            )
                        }
                    }
                }
                "Cancelled" => {
                    match event_version {
                        1u32 => {
                            ::eventsmith::__private::decode_unit(
                                    "Cancelled",
                                    1u32,
                                    payload,
                                )
                                .map(|()| Self::Cancelled)
                        }
                        __other => {
                            ::core::result::Result::Err(
                                ::eventsmith::__private::unknown_version(
                                    "Cancelled",
                                    __other,
                                    1u32,
                                ),
                            )
                        }
                    }
                }
                __other => {
                    ::core::result::Result::Err(
                        ::eventsmith::__private::unknown_type(
                            __other,
                            &["OrderCreated", "OrderShipped", "Refunded", "Cancelled"],
                        ),
                    )
                }
            }
        }
        #[inline]
        fn is_deprecated(&self) -> bool {
            ::core::matches!(self, Self::Refunded(..))
        }
        const HISTORY: &'static [::eventsmith::__private::TypeHistory] = &[
            ::eventsmith::__private::TypeHistory {
                upcast_from: &[],
                deprecated: false,
            },
            ::eventsmith::__private::TypeHistory {
                upcast_from: &[1u32, 2u32],
                deprecated: false,
            },
            ::eventsmith::__private::TypeHistory {
                upcast_from: &[],
                deprecated: true,
            },
            ::eventsmith::__private::TypeHistory {
                upcast_from: &[],
                deprecated: false,
            },
        ];
        fn catalog_schemas() -> ::core::option::Option<
            ::eventsmith::__private::Vec<::eventsmith::__private::EventSchema>,
        > {
            #[allow(unused_imports)]
            use ::eventsmith::__private::{NoSchemas as _, SchemasIfAny as _};
            (&&::eventsmith::__private::MaybeSchemas::<Self>::NEW).maybe_schemas()
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<OrderCreated> for OrderEvent {
        #[inline]
        fn from(event: OrderCreated) -> Self {
            Self::OrderCreated(event)
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Produces<OrderEvent> for OrderCreated {
        const PRODUCED: &'static [&'static str] = &["OrderCreated"];
        #[inline]
        fn produce(self) -> OrderEvent {
            OrderEvent::OrderCreated(self)
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::VariantOf<OrderEvent> for OrderCreated {
        const INDEX: usize = 0usize;
        const NAME: &'static str = "OrderCreated";
        const NAMES: &'static [&'static str] = &["OrderCreated", "order_created"];
        const VERSION: u32 = 1u32;
        #[inline]
        fn into_event(self) -> OrderEvent {
            OrderEvent::OrderCreated(self)
        }
        #[inline]
        fn from_event(event: OrderEvent) -> ::core::result::Result<Self, OrderEvent> {
            match event {
                OrderEvent::OrderCreated(__payload) => {
                    ::core::result::Result::Ok(__payload)
                }
                __other => ::core::result::Result::Err(__other),
            }
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<OrderShipped> for OrderEvent {
        #[inline]
        fn from(event: OrderShipped) -> Self {
            Self::Shipped(event)
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Produces<OrderEvent> for OrderShipped {
        const PRODUCED: &'static [&'static str] = &["OrderShipped"];
        #[inline]
        fn produce(self) -> OrderEvent {
            OrderEvent::Shipped(self)
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::VariantOf<OrderEvent> for OrderShipped {
        const INDEX: usize = 1usize;
        const NAME: &'static str = "OrderShipped";
        const NAMES: &'static [&'static str] = &["OrderShipped"];
        const VERSION: u32 = 3u32;
        #[inline]
        fn into_event(self) -> OrderEvent {
            OrderEvent::Shipped(self)
        }
        #[inline]
        fn from_event(event: OrderEvent) -> ::core::result::Result<Self, OrderEvent> {
            match event {
                OrderEvent::Shipped(__payload) => ::core::result::Result::Ok(__payload),
                __other => ::core::result::Result::Err(__other),
            }
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<Refunded> for OrderEvent {
        #[inline]
        fn from(event: Refunded) -> Self {
            Self::Refunded(event)
        }
    }
    #[automatically_derived]
    impl<'__x> ::eventsmith::__private::Produces<OrderEvent> for Refunded
    where
        (): ::eventsmith::__private::NotDeprecated<'__x, Refunded, OrderEvent>,
    {
        const PRODUCED: &'static [&'static str] = &["Refunded"];
        #[inline]
        fn produce(self) -> OrderEvent {
            OrderEvent::Refunded(self)
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::VariantOf<OrderEvent> for Refunded {
        const INDEX: usize = 2usize;
        const NAME: &'static str = "Refunded";
        const NAMES: &'static [&'static str] = &["Refunded"];
        const VERSION: u32 = 1u32;
        #[inline]
        fn into_event(self) -> OrderEvent {
            OrderEvent::Refunded(self)
        }
        #[inline]
        fn from_event(event: OrderEvent) -> ::core::result::Result<Self, OrderEvent> {
            match event {
                OrderEvent::Refunded(__payload) => ::core::result::Result::Ok(__payload),
                __other => ::core::result::Result::Err(__other),
            }
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::VariantOf<OrderEvent>
    for unit_variants_of_OrderEvent::Cancelled {
        const INDEX: usize = 3usize;
        const NAME: &'static str = "Cancelled";
        const NAMES: &'static [&'static str] = &["Cancelled"];
        const VERSION: u32 = 1u32;
        #[inline]
        fn into_event(self) -> OrderEvent {
            OrderEvent::Cancelled
        }
        #[inline]
        fn from_event(event: OrderEvent) -> ::core::result::Result<Self, OrderEvent> {
            match event {
                OrderEvent::Cancelled => {
                    ::core::result::Result::Ok(unit_variants_of_OrderEvent::Cancelled)
                }
                __other => ::core::result::Result::Err(__other),
            }
        }
    }
    #[automatically_derived]
    impl<__S> ::eventsmith::__private::AppliedBy<__S> for OrderEvent
    where
        __S: ::eventsmith::__private::Applies<OrderCreated>,
        __S: ::eventsmith::__private::Applies<OrderShipped>,
        __S: ::eventsmith::__private::Applies<Refunded>,
        __S: ::eventsmith::__private::AppliesUnit<
            OrderEvent,
            unit_variants_of_OrderEvent::Cancelled,
        >,
    {
        #[inline]
        fn apply_to(&self, state: &mut __S) {
            match self {
                Self::OrderCreated(__payload) => {
                    ::eventsmith::__private::Applies::<
                        OrderCreated,
                    >::apply_event(state, __payload)
                }
                Self::Shipped(__payload) => {
                    ::eventsmith::__private::Applies::<
                        OrderShipped,
                    >::apply_event(state, __payload)
                }
                Self::Refunded(__payload) => {
                    ::eventsmith::__private::Applies::<
                        Refunded,
                    >::apply_event(state, __payload)
                }
                Self::Cancelled => {
                    ::eventsmith::__private::AppliesUnit::<
                        OrderEvent,
                        unit_variants_of_OrderEvent::Cancelled,
                    >::apply_unit(state, &unit_variants_of_OrderEvent::Cancelled)
                }
            }
        }
    }
    #[automatically_derived]
    impl<__M> ::eventsmith::__private::EventSchemas<__M> for OrderEvent
    where
        OrderCreated: ::eventsmith::__private::HasSchema<__M>,
        OrderShipped: ::eventsmith::__private::HasSchema<__M>,
        ShippedV1: ::eventsmith::__private::HasSchema<__M>,
        ShippedV2: ::eventsmith::__private::HasSchema<__M>,
        Refunded: ::eventsmith::__private::HasSchema<__M>,
    {
        fn event_schemas() -> ::eventsmith::__private::Vec<
            ::eventsmith::__private::EventSchema,
        > {
            ::eventsmith::__private::Vec::from([
                ::eventsmith::__private::EventSchema {
                    name: "OrderCreated",
                    version: 1u32,
                    schema: <OrderCreated as ::eventsmith::__private::HasSchema<
                        __M,
                    >>::schema(),
                },
                ::eventsmith::__private::EventSchema {
                    name: "OrderShipped",
                    version: 3u32,
                    schema: <OrderShipped as ::eventsmith::__private::HasSchema<
                        __M,
                    >>::schema(),
                },
                ::eventsmith::__private::EventSchema {
                    name: "OrderShipped",
                    version: 1u32,
                    schema: <ShippedV1 as ::eventsmith::__private::HasSchema<
                        __M,
                    >>::schema(),
                },
                ::eventsmith::__private::EventSchema {
                    name: "OrderShipped",
                    version: 2u32,
                    schema: <ShippedV2 as ::eventsmith::__private::HasSchema<
                        __M,
                    >>::schema(),
                },
                ::eventsmith::__private::EventSchema {
                    name: "Refunded",
                    version: 1u32,
                    schema: <Refunded as ::eventsmith::__private::HasSchema<
                        __M,
                    >>::schema(),
                },
                ::eventsmith::__private::EventSchema {
                    name: "Cancelled",
                    version: 1u32,
                    schema: ::eventsmith::__private::unit_schema(),
                },
            ])
        }
    }
};
